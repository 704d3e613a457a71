"""Evaluation: accuracy on Countdown with 3-6 numbers and OOD tasks, plus skill use of the outputs
(samples per answer, verification rate, retries), optionally with budget forcing.

Rows go to the run's `eval` table (stable ids: a rerun only fills what is missing) and are
queryable with `sf query eval_accuracy` / `skill_by_source`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sfdata.stagecfg import from_dict
from sfdata.store import RunDir, stable_id


def parse_task_specs(specs: list[str] | tuple[str, ...]) -> list[tuple[str, int | None]]:
    """`countdown:3,4,5,6` -> [(countdown,3),...]; `multiplication` -> [(multiplication, None)]."""
    out: list[tuple[str, int | None]] = []
    for spec in specs:
        name, _, levels = spec.partition(":")
        if levels:
            out += [(name, int(x)) for x in levels.split(",") if x.strip()]
        else:
            out.append((name, None))
    return out


@dataclass
class EvalConfig:
    models: list[dict[str, Any]] = field(
        default_factory=list
    )  # [{"model": ..., "stage": "base"}]; empty = base (+ run's sft)
    model: str | None = None  # the base model when `models` is empty
    tasks: tuple[str, ...] = ("countdown:3,4,5,6",)
    n_questions: int = 8  # per task x level
    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = 256
    budget_forcing: int = 0  # extra rounds; 0 = off (rows for 0 are always written)
    seed: int = 777  # eval questions differ from training questions (different seed)
    engine: str = "auto"
    batch_size: int = 16

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EvalConfig:
        cfg = from_dict(cls, d)
        cfg.tasks = tuple(cfg.tasks)
        return cfg


def _questions(cfg: EvalConfig):
    from sfdata.tasks import get_task

    out = []
    for name, level in parse_task_specs(cfg.tasks):
        task = get_task(name)
        out += [(task, q) for q in task.generate(cfg.n_questions, cfg.seed, level=level, split="test")]
    return out


def evaluate_model(run: RunDir, model: str | None, stage: str, cfg: EvalConfig, log=print) -> dict[str, Any]:
    from sfdata import prompts as pv
    from sfdata.engines import get_engine
    from sfdata.engines.base import SamplingParams
    from sfdata.models import model_label
    from sfdata.store.run import now_utc
    from sfdata.tasks import grade_response
    from sftrain.budget import budget_force

    label = model_label(model)
    sp = SamplingParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)
    rounds_list = [0] + ([cfg.budget_forcing] if cfg.budget_forcing > 0 else [])
    items = [(t, q, s) for t, q in _questions(cfg) for s in range(cfg.samples)]

    def eid(q, s, b):
        return stable_id("eval", label, stage, q.question_id, s, b, sp.key(), cfg.seed)

    have = run.ids("eval")
    todo = [(t, q, s) for t, q, s in items if any(eid(q, s, b) not in have for b in rounds_list)]
    if not todo:
        return {"model": label, "stage": stage, "written": 0}
    t0 = time.perf_counter()
    engine = get_engine(cfg.engine, model, batch_size=cfg.batch_size)
    try:
        msgs = [pv.messages("original", t, q) for t, q, _ in todo]
        comps = engine.generate(msgs, SamplingParams(**{**sp.__dict__, "n": 1}))
        first = [c[0] for c in comps]
        variants = {0: [(c.text, 0, c.completion_tokens) for c in first]}
        if cfg.budget_forcing > 0:
            forced = budget_force(
                engine,
                msgs,
                [c.text for c in first],
                sp,
                cfg.budget_forcing,
                first_tokens=[c.completion_tokens for c in first],
            )
            variants[cfg.budget_forcing] = [(f.text, f.rounds, f.completion_tokens) for f in forced]
    finally:
        engine.close()
    now = now_utc()
    rows = []
    for b, outs in variants.items():
        for (task, q, s), m, (text, _used, ntok) in zip(todo, msgs, outs):
            i = eid(q, s, b)
            if i in have:
                continue
            ans, res = grade_response(task, q, text)
            rows.append(
                {
                    "eval_id": i,
                    "model": label,
                    "stage": stage,
                    "task": q.task,
                    "level": q.level,
                    "question_id": q.question_id,
                    "sample_idx": s,
                    "budget_rounds": b,
                    "prompt": m[-1]["content"],
                    "response": text,
                    "extracted_answer": ans,
                    "is_correct": res.is_correct,
                    "reason": res.reason.value,
                    "completion_tokens": ntok,
                    "created_at": now,
                }
            )
    run.append("eval", pl.DataFrame(rows))
    return {"model": label, "stage": stage, "written": len(rows), "seconds": round(time.perf_counter() - t0, 1)}


def summary_frame(run: RunDir) -> pl.DataFrame:
    """Accuracy and skill use per stage x task x level x budget rounds."""
    from sfdata.skills import detect

    ev = run.read("eval")
    if ev.height == 0:
        return pl.DataFrame()
    sk = [detect(t) for t in ev["response"].to_list()]
    ev = ev.with_columns(
        pl.Series("has_sample_tag", [c.n_samples > 0 for c in sk]),
        pl.Series("n_samples", [c.n_samples for c in sk]),
        pl.Series("verifies", [c.n_verdicts > 0 or c.cue_verify > 0 for c in sk]),
        pl.Series("retries", [c.n_retries > 0 for c in sk]),
    )
    return (
        ev.group_by("stage", "task", "level", "budget_rounds")
        .agg(
            pl.len().alias("n"),
            pl.col("is_correct").mean().round(3).alias("accuracy"),
            pl.col("has_sample_tag").mean().round(3).alias("sample_tags"),
            pl.col("n_samples").mean().round(2).alias("samples_per_answer"),
            pl.col("verifies").mean().round(3).alias("verification_rate"),
            pl.col("retries").mean().round(3).alias("retry_rate"),
            pl.col("completion_tokens").mean().round(1).alias("tokens"),
        )
        .sort("task", "level", "budget_rounds", "stage")
    )


def before_after(run: RunDir) -> pl.DataFrame:
    """One row per task:level with accuracy and skill use per model stage, readable at 80 columns.

    `acc base`, `acc sft`: accuracy; `acc sft+BF`: the last stage with budget forcing;
    `tags X`: share of answers using <sample> tags; `verify sft`: share that verify.
    """
    s = summary_frame(run)
    if s.height == 0:
        return s
    s = s.with_columns(pl.format("{}:{}", "task", "level").alias("task:level"))
    stages = s["stage"].unique(maintain_order=True).to_list()
    last = stages[-1]
    plain = s.filter(pl.col("budget_rounds") == 0)
    out = plain.select("task:level").unique(maintain_order=True)

    def add(frame: pl.DataFrame, col: str, name: str) -> None:
        nonlocal out
        out = out.join(frame.select("task:level", pl.col(col).alias(name)), on="task:level", how="left")

    for st in stages:
        add(plain.filter(pl.col("stage") == st), "accuracy", f"acc {st}")
    forced = s.filter((pl.col("budget_rounds") > 0) & (pl.col("stage") == last))
    if forced.height:
        add(forced, "accuracy", f"acc {last}+BF")
    for st in stages:
        add(plain.filter(pl.col("stage") == st), "sample_tags", f"tags {st}")
    add(plain.filter(pl.col("stage") == last), "verification_rate", f"verify {last}")
    return out.sort("task:level")


def eval_stage(run: RunDir, cfg: EvalConfig) -> dict[str, Any]:
    models = list(cfg.models)
    if not models:
        models = [{"model": cfg.model, "stage": "base"}]
        sft_dir = run.path / "models" / "sft"
        if (sft_dir / "config.json").is_file():
            models.append({"model": str(sft_dir), "stage": "sft"})
    results = [evaluate_model(run, m.get("model"), m.get("stage", "model"), cfg) for m in models]
    summ = summary_frame(run)
    return {"models": results, "summary": summ.to_dicts() if summ.height else []}
