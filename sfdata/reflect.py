"""Reflect stage: the same model verifies each rollout and ends with a verdict.

A reflection is *valid* when its verdict matches the rollout's real grade; only valid
reflections are used in traces, so the traces never teach a wrong verification.
A verdict is exactly one closed `<verdict>Correct|Incorrect</verdict>` (`sfdata.grammar.read_verdict`):
contradictory verdicts, an echoed instruction line or an unclosed tag leave the reflection without one.
With `force_verdict` (default), a reflection that ends without a verdict is continued from
`<verdict>` for a few tokens: small models often forget the tag but can still judge when asked
at the right spot; the model must close the tag itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from sfdata.engines.base import Engine, SamplingParams
from sfdata.generation import engine_for, job_seed, run_jobs
from sfdata.grammar import PART_SEP, VERDICT_CLOSE, VERDICT_OPEN, parse_verdict, read_verdict
from sfdata.stagecfg import EngineConfig, SamplingConfig, opt
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.tasks import Question

VERIFY_TEMPLATE = """You are checking someone else's solution.

Problem:
{question}

Their solution:
{response}

Check the solution step by step: are the calculations right, are the rules of the problem followed, \
does the final answer inside <answer></answer> actually solve the problem? Point out the first mistake if there is one.
End with exactly one line: <verdict>Correct</verdict> if the final answer is right, or <verdict>Incorrect</verdict> if it is not."""

__all__ = ["ReflectConfig", "parse_verdict", "read_verdict", "reflect_stage", "verdict_metrics", "verify_messages"]


@dataclass
class ReflectConfig(SamplingConfig, EngineConfig):
    """`[reflect]` section and `sf reflect` flags (engine and sampling options come from the mixins)."""

    k: int = opt(2, "reflections per rollout", min=1)
    chunk: int = opt(32, "rows per part file (the most a hard kill can lose)", min=1)
    force_verdict: bool = opt(True, "complete a missing verdict tag with a few greedy tokens")


def verify_messages(question: str, response: str) -> list[dict[str, str]]:
    """The verifier prompt. It holds the WHOLE response: a cut one hides the final answer being judged."""
    return [{"role": "user", "content": VERIFY_TEMPLATE.format(question=question, response=response)}]


def graded_rollouts(run: RunDir) -> pl.DataFrame:
    """Rollouts joined with their grades; a clear error when any rollout is not graded yet."""
    rollouts = run.read("rollouts")
    if rollouts.height == 0:
        raise FileNotFoundError(f"{run.path} has no rollouts; run `sf generate {run.path}` first")
    grades = run.read("grades").select("rollout_id", "is_correct")
    joined = rollouts.join(grades, on="rollout_id", how="left")
    ungraded = joined["is_correct"].null_count()
    if ungraded:
        raise FileNotFoundError(
            f"{ungraded} of {rollouts.height} rollouts in {run.path} have no grade; run `sf grade {run.path}` first"
        )
    return joined


def plan_reflections(run: RunDir, cfg: ReflectConfig, joined: pl.DataFrame) -> list[dict[str, Any]]:
    """Every missing (rollout, k) reflection job with its stable id and its own seed, in a fixed order."""
    from sfdata.generate import model_name

    questions = {r["question_id"]: Question.from_row(r) for r in run.read("questions").iter_rows(named=True)}
    mname = model_name(cfg.model)
    skey = cfg.sampling().key()
    have = run.ids("reflections")
    jobs = []
    for r in joined.select("rollout_id", "question_id", "response", "is_correct").iter_rows(named=True):
        q = questions.get(r["question_id"])
        if q is None:
            continue
        msgs = verify_messages(q.question, r["response"])
        for k in range(cfg.k):
            fid = stable_id(r["rollout_id"], k, mname, skey, cfg.seed)
            if fid not in have:
                jobs.append(
                    {
                        "reflection_id": fid,
                        "rollout_id": r["rollout_id"],
                        "question_id": r["question_id"],
                        "idx": k,
                        "messages": msgs,
                        "is_correct": bool(r["is_correct"]),
                        "seed": job_seed(fid, cfg.seed),
                    }
                )
    return jobs


def reflect_stage(run: RunDir, cfg: ReflectConfig, engine: Engine | None = None) -> dict[str, Any]:
    """K reflections per graded rollout. Reads `questions`, `rollouts`, `grades` (every rollout must be graded:
    `sf grade` first; reflect never grades); appends `reflections`. Info holds the verdict metrics.

    Each reflection's request is seeded with its own seed (from its id), so the K reflections of
    a rollout differ on per-request engines. An engine passed in stays open; one created is closed.
    """
    from sfdata.generate import model_name

    joined = graded_rollouts(run)
    jobs = plan_reflections(run, cfg, joined)
    info: dict[str, Any] = {"planned": joined.height * cfg.k, "existing": joined.height * cfg.k - len(jobs)}
    if jobs:
        with engine_for(engine, cfg.engine, cfg.model, cfg.batch_size, cfg.options()) as eng:
            to_rows = _to_rows(eng, cfg, model_name(cfg.model))
            info.update(run_jobs(run, "reflections", jobs, eng, cfg.sampling(), cfg.chunk, to_rows, "reflect"))
    info["metrics"] = verdict_metrics(run)
    return info


def _to_rows(engine: Engine, cfg: ReflectConfig, mname: str):
    def to_rows(part, comps, latency):
        texts = [c.text for c in comps]
        if cfg.force_verdict:
            texts = _force_verdicts(engine, part, texts, cfg)
        now = now_utc()
        rows = []
        for j, c, text in zip(part, comps, texts):
            verdict = parse_verdict(text)
            rows.append(
                {
                    "reflection_id": j["reflection_id"],
                    "rollout_id": j["rollout_id"],
                    "question_id": j["question_id"],
                    "reflection_idx": j["idx"],
                    "prompt": j["messages"][-1]["content"],
                    "text": text,
                    "verdict": verdict,
                    "rollout_is_correct": j["is_correct"],
                    "is_valid": verdict is not None and (verdict == "Correct") == j["is_correct"],
                    "model": mname,
                    "temperature": cfg.temperature,
                    "seed": j["seed"],  # this reflection's own sampling seed
                    "completion_tokens": c.completion_tokens,
                    "latency_s": latency,
                    "created_at": now,
                }
            )
        return rows

    return to_rows


#: tokens for a forced verdict: the word and `</verdict>` (~6 tokens) with room for a space or newline
FORCE_TOKENS = 12


def _force_verdicts(engine: Engine, part: list[dict], texts: list[str], cfg: ReflectConfig) -> list[str]:
    """Continue reflections that have no verdict from an opened `<verdict>` tag, a few tokens only.

    Only reflections with no verdict at all (none written, or one opened and never closed) are
    continued; an unclosed `<verdict>` is cut off first. The continuation counts only if the model
    itself closes the tag (`Correct</verdict>`): we keep its text up to `</verdict>` and never write
    a tag for it, so a continuation cut at the token limit leaves the reflection without a verdict.
    """
    missing = []
    for i, t in enumerate(texts):
        read = read_verdict(t)
        if read.problem in ("no_verdict", "unclosed_verdict") and not read.closed:
            body = t if read.unclosed_at is None else t[: read.unclosed_at]
            missing.append((i, body.rstrip() + PART_SEP + VERDICT_OPEN))
    if not missing:
        return texts
    raws = [engine.chat_text(part[i]["messages"]) + body for i, body in missing]
    sp = SamplingParams(temperature=0.0, max_tokens=FORCE_TOKENS, seed=cfg.seed)
    conts = engine.generate(raws, sp, seeds=[part[i]["seed"] for i, _ in missing])
    out = list(texts)
    for (i, body), c in zip(missing, conts):
        cont = c[0].text
        close = cont.lower().find(VERDICT_CLOSE)  # the continuation is plain text: cut after the first close
        if close < 0:
            continue
        forced = body + cont[: close + len(VERDICT_CLOSE)]
        if parse_verdict(forced) is not None:
            out[i] = forced
    return out


def verdict_metrics(run: RunDir) -> dict[str, Any]:
    """Verdict quality against the current grades; positive class = 'Correct' (as in the paper's F1).

    Truth and validity come from the grades table now (`sfdata.validity`), not the flags stored at reflect
    time, so the summary after a regrade counts against the new grades."""
    from sfdata.validity import with_current_grades

    df = run.read("reflections")
    if df.height == 0:
        return {"reflections": 0}
    df = with_current_grades(df, run.read("grades"))
    parsed = df.filter(pl.col("verdict").is_not_null() & pl.col("rollout_is_correct").is_not_null())
    says = parsed["verdict"] == "Correct"
    truth = parsed["rollout_is_correct"]
    tp = int((says & truth).sum())
    fp = int((says & ~truth).sum())
    fn = int((~says & truth).sum())
    tn = int((~says & ~truth).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    # F1 of the "Incorrect" class too: with weak models most rollouts are wrong
    prec_n = tn / (tn + fn) if tn + fn else 0.0
    rec_n = tn / (tn + fp) if tn + fp else 0.0
    f1_n = 2 * prec_n * rec_n / (prec_n + rec_n) if prec_n + rec_n else 0.0
    problems: dict[str, int] = {}
    for text, verdict in df.select("text", "verdict").iter_rows():
        if verdict is None:
            why = read_verdict(text).problem or "no_verdict"
            problems[why] = problems.get(why, 0) + 1
    return {
        "reflections": df.height,
        "parsed": parsed.height,
        "no_verdict_reasons": dict(sorted(problems.items())),
        "valid": int(df["is_valid"].sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "f1": round(f1, 4),
        "f1_incorrect": round(f1_n, 4),
    }
