"""Evaluation: accuracy on Countdown with 3-6 numbers and OOD tasks, plus skill use of the outputs
(samples per answer, verification rate, retries), optionally with budget forcing.

Rows go to the run's `eval` table (stable ids: a rerun only fills what is missing) and are
queryable with `sf query eval_accuracy` / `skill_by_source`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from sfdata.stagecfg import EngineConfig, SamplingConfig, opt
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
class EvalConfig(SamplingConfig, EngineConfig):
    """`[eval]` section and `sf eval` flags; sampling and engine options (engine, batch_size, base_url,
    engine_options) are the generate stage's; sampling is greedy by default."""

    temperature: float = opt(0.0, "sampling temperature (0 = greedy)", min=0)
    max_tokens: int = opt(256, "the whole answer's budget, budget-forcing rounds included", min=1)
    seed: int = opt(777, "eval question seed (differs from training seeds; overlapping questions are removed too)")
    models: list[dict[str, Any]] = opt(
        [], "[{model, stage}] to score; empty = the base model (+ the run's sft)", cli=False
    )
    model: str | None = opt(None, "model to evaluate (default: the embedded SmolLM2)")
    tasks: tuple[str, ...] = opt(("countdown:3,4,5,6",), "task[:levels], e.g. countdown:3,4 multiplication:2")
    n_questions: int = opt(8, "questions per task x level", min=1)
    samples: int = opt(1, "samples per question", min=1)
    budget_forcing: int = opt(0, "extra rounds after </think> (0 = off; rows for 0 are always written)", min=0)
    budget_cue: str = opt("Wait", "budget-forcing cue appended to every output ('Wait' as s1, or '<sample>')")
    chunk: int = opt(64, "eval rows per part file (the most a hard kill can lose)", min=1)
    variant: str = opt("original", "prompt variant (the same for every model you compare)")
    fewshot: int | None = opt(None, "demonstrations per question (default: as the run's [generate])", min=0)
    exclude_from: tuple[str, ...] = opt((), "run dirs whose questions were training data (kept out of eval)")
    preset: str | None = opt(None, "paper: max_tokens 16384, greedy (sftrain.presets.EVAL_PRESETS)")

    @staticmethod
    def preset_values(name: str) -> dict[str, Any]:
        """A named preset's field values; the section's own values are laid over them by `from_dict`."""
        from sftrain.presets import EVAL_PRESETS

        if name not in EVAL_PRESETS:
            raise ValueError(f"unknown eval preset {name!r}; known: {', '.join(EVAL_PRESETS)}")
        return dict(EVAL_PRESETS[name])


def prompt_setup(variant: str, fewshot: int) -> str:
    """How eval questions are asked, as recorded in every eval row and shown in the tables."""
    return f"{variant}, {fewshot}-shot"


def resolve_fewshot(run: RunDir, cfg: EvalConfig) -> int:
    """The eval's demonstration count: the config's, else the one the run's data was sampled with,
    so base, SFT and RL models are all scored with the prompt the data came from."""
    if cfg.fewshot is not None:
        return int(cfg.fewshot)
    gen = (run.manifest().get("config") or {}).get("generate") or {}
    return int(gen.get("fewshot") or 0)


def eval_questions(run: RunDir, cfg: EvalConfig, models: list[str | None], fewshot: int, log=print):
    """(task, question) pairs disjoint from every training question of the run, of `exclude_from` runs, of
    the models' own training data, and from the few-shot demonstrations; and the count removed per task:level."""
    from sftrain.heldout import merge, run_keys, trained_keys

    base = merge(run_keys(run.path), *(run_keys(r) for r in cfg.exclude_from), *(trained_keys(m) for m in models))
    out, removed = [], {}
    for label, task, drawn in draw_eval_sets(cfg, base, fewshot):
        removed[label] = drawn.overlap_removed
        out += [(task, q) for q in drawn.questions]
    log(
        "eval questions removed as overlapping training questions: " + ", ".join(f"{k} {v}" for k, v in removed.items())
    )
    return out, removed


def draw_eval_sets(cfg: EvalConfig, exclude, fewshot: int) -> list[tuple[str, Any, Any]]:
    """(task:level label, task, Drawn) per entry of `cfg.tasks`: held out from `exclude` and from the few-shot
    demonstrations. The run draws with it, and `sf run --dry-run` draws the same sets to check they exist."""
    from sfdata import prompts as pv
    from sfdata.tasks import get_task
    from sftrain.heldout import draw_held_out, keys_of, merge

    out = []
    for name, level in parse_task_specs(cfg.tasks):
        task = get_task(name)
        demos = task.generate(fewshot, pv.FEWSHOT_SEED, level=level) if fewshot > 0 else []
        drawn = draw_held_out(task, cfg.n_questions, cfg.seed, level, merge(exclude, keys_of(demos)))
        out.append((f"{name}:{level}" if level is not None else name, task, drawn))
    return out


def _answer_rows(engine, cfg: EvalConfig, part: list[dict], comps: list, eid, have: set, meta: dict) -> list[dict]:
    """Rows of one chunk of eval jobs: their first answers, plus the budget-forced continuation when asked."""
    from sftrain.budget import budget_force

    variants = {0: [(c.text, 0, c.completion_tokens) for c in comps]}
    if cfg.budget_forcing > 0:
        forced = budget_force(
            engine,
            [j["messages"] for j in part],
            [c.text for c in comps],
            cfg.sampling(),
            cfg.budget_forcing,
            first_tokens=[c.completion_tokens for c in comps],
            seeds=[j["forced_seed"] for j in part],
            cue=cfg.budget_cue,
        )
        variants[cfg.budget_forcing] = [(f.text, f.rounds, f.completion_tokens) for f in forced]
    return _eval_rows(variants, [j["item"] for j in part], [j["messages"] for j in part], eid, have, meta)


def _eval_rows(variants: dict, todo: list, msgs: list, eid, have: set, meta: dict) -> list[dict]:
    """Grade every generated answer not already stored; `meta` holds the columns shared by all rows."""
    from sfdata.store.run import now_utc
    from sfdata.tasks import grade_response

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
                    "arm": meta["arm"],
                    "model": meta["model"],
                    "stage": meta["stage"],
                    "task": q.task,
                    "level": q.level,
                    "question_id": q.question_id,
                    "sample_idx": s,
                    "budget_rounds": b,
                    "prompt_setup": meta["prompt_setup"],
                    "answer": q.answer,  # the question travels with the row: held out, it is in no questions table
                    "data": json.dumps(q.data, sort_keys=True),
                    "prompt": m[-1]["content"],
                    "response": text,
                    "extracted_answer": ans,
                    "is_correct": res.is_correct,
                    "reason": res.reason.value,
                    "grader": getattr(task, "grader_version", task.name),
                    "completion_tokens": ntok,
                    "created_at": now,
                }
            )
    return rows


def evaluate_model(
    run: RunDir,
    model: str | None,
    stage: str,
    cfg: EvalConfig,
    log=print,
    questions: list | None = None,
    fewshot: int | None = None,
    arm: str = "",
) -> dict[str, Any]:
    """Score one model; `questions` and `fewshot` are shared by every stage of one eval so they compare.

    `arm` names the experiment arm the rows belong to (`sf query experiment_table`)."""
    from sfdata import prompts as pv
    from sfdata.models import model_label
    from sfdata.store.ids import seed_from_id

    label = model_label(model)
    k = resolve_fewshot(run, cfg) if fewshot is None else fewshot
    setup = prompt_setup(cfg.variant, k)
    if questions is None:
        questions, _ = eval_questions(run, cfg, [model], k, log)
    sp = cfg.sampling()
    rounds_list = [0] + ([cfg.budget_forcing] if cfg.budget_forcing > 0 else [])
    items = [(t, q, s) for t, q in questions for s in range(cfg.samples)]

    def eid(q, s, b):
        extra = (arm,) if arm else ()  # rows outside an experiment keep their ids
        if b > 0 and cfg.budget_cue != "Wait":  # a forced row depends on its cue ("Wait" rows keep their ids)
            extra += (cfg.budget_cue,)
        return stable_id("eval", label, stage, q.question_id, s, b, sp.key(), cfg.seed, setup, *extra)

    have = run.ids("eval")
    todo = [(t, q, s) for t, q, s in items if any(eid(q, s, b) not in have for b in rounds_list)]
    if not todo:
        return {"model": label, "stage": stage, "written": 0, "prompt": setup}
    from sfdata.generation import engine_for, run_jobs

    jobs = []
    for t, q, s in todo:
        msgs = pv.fewshot_messages(cfg.variant, t, k, q.level or None) + pv.messages(cfg.variant, t, q)
        seed, forced_seed = (seed_from_id(eid(q, s, b), cfg.seed) for b in (0, cfg.budget_forcing))
        jobs.append({"messages": msgs, "seed": seed, "forced_seed": forced_seed, "item": (t, q, s)})
    meta = {"arm": arm, "model": label, "stage": stage, "prompt_setup": setup}
    # the job loop of generate and reflect: one atomic part per chunk, so a kill loses at most one chunk
    with engine_for(None, cfg.engine, model, cfg.batch_size, cfg.options()) as engine:
        info = run_jobs(
            run,
            "eval",
            jobs,
            engine,
            sp,
            cfg.chunk,
            lambda part, comps, _dt: _answer_rows(engine, cfg, part, comps, eid, have, meta),
            f"eval {label} ({stage})",
        )
    return {"model": label, "stage": stage, "written": info["written"], "seconds": info["seconds"], "prompt": setup}


SUMMARY_KEYS = ("prompt_setup", "arm", "model", "stage", "task", "level", "budget_rounds")


SUMMARY_METRICS = (
    "sample_tag_rate",
    "samples_per_answer",
    "tagged_verdict_rate",
    "keyword_cue_rate",
    "retry_rate",
    "verdict_f1_correct",
    "verdict_f1_incorrect",
)


def summary_frame(run: RunDir) -> pl.DataFrame:
    """Accuracy and skill use per arm x model x stage x task x level x budget rounds (two RL arms that both
    write stage "rl" stay two rows). `n_questions` counts questions (a question's score is the mean of its
    samples), `ci_lo`/`ci_hi` are the accuracy's 95% Wilson interval, `n` counts outputs. The skill columns are
    `sfdata.skill_metrics` definitions over the rows' skills (verdicts checked against each row's own question)."""
    from sfdata import skill_metrics
    from sfdata.skills import eval_questions, skills_frame
    from sfdata.stats import wilson

    ev = run.read("eval")
    if ev.height == 0:
        return pl.DataFrame()
    sk = skills_frame(list(ev.select("eval_id", "response", "question_id").iter_rows()), "eval", eval_questions(ev))
    ev = ev.join(sk.drop("source").rename({"id": "eval_id"}), on="eval_id", how="left", maintain_order="left")
    metrics = [skill_metrics.get(n).expr().round(3) for n in SUMMARY_METRICS]
    per_q = ev.group_by(*SUMMARY_KEYS, "question_id").agg(pl.col("is_correct").cast(pl.Float64).mean().alias("q"))
    k = per_q.group_by(*SUMMARY_KEYS).agg(pl.len().alias("n_questions"), pl.col("q").sum().alias("k"))
    out = (
        ev.group_by(*SUMMARY_KEYS)
        .agg(pl.len().alias("n"), *metrics, pl.col("completion_tokens").mean().round(1).alias("tokens"))
        .rename({"sample_tag_rate": "sample_tags"})
        .join(k, on=list(SUMMARY_KEYS), nulls_equal=True)
    )
    ci = [wilson(a, b) for a, b in out.select("k", "n_questions").iter_rows()]
    out = out.with_columns(
        (pl.col("k") / pl.col("n_questions")).round(3).alias("accuracy"),
        pl.Series("ci_lo", [round(lo, 3) for lo, _ in ci]),
        pl.Series("ci_hi", [round(hi, 3) for _, hi in ci]),
    ).drop("k")
    first = [*SUMMARY_KEYS, "n", "n_questions", "accuracy", "ci_lo", "ci_hi"]
    return out.select(*first, *[c for c in out.columns if c not in first]).sort(
        "prompt_setup", "task", "level", "budget_rounds", "arm", "stage", "model", nulls_last=True
    )


def model_labels(s: pl.DataFrame) -> dict[tuple[str, str, str], str]:
    """Column label per (arm, stage, model): `arm/stage` in an experiment (`base` for the base arm), the stage
    alone outside one, plus the
    model when two models would otherwise share a label."""
    keys = s.select("arm", "stage", "model").unique(maintain_order=True).rows()
    short = {key: (f"{key[0]}/{key[1]}" if key[0] and key[0] != key[1] else key[1]) for key in keys}
    taken = [short[key] for key in keys]
    return {key: (lab if taken.count(lab) == 1 else f"{lab} {key[2]}") for key, lab in short.items()}


def before_after(run: RunDir) -> pl.DataFrame:
    """One row per prompt x task:level with accuracy and skill use per arm/stage (each model its own column).

    `prompt`: how every model was asked (variant, demonstrations); `n`: questions; `acc base`,
    `acc skillfactory/rl`: accuracy, `ci ...`: its 95% Wilson interval; `acc X+BF`: with budget forcing (every
    model that was forced); `tags X`: share of answers using <sample> tags; `verdicts X`: share with a tagged verdict
    (untagged cues are the summary's keyword_cue_rate).
    """
    s = summary_frame(run)
    if s.height == 0:
        return s
    s = s.with_columns(pl.format("{}:{}", "task", "level").alias("task:level"), pl.col("prompt_setup").alias("prompt"))
    labels = model_labels(s)
    order = list(labels)
    plain = s.filter(pl.col("budget_rounds") == 0)
    on = ["prompt", "task:level"]
    out = plain.select(on).unique(maintain_order=True)
    out = out.join(plain.group_by(on).agg(pl.col("n_questions").max().alias("n")), on=on, how="left")

    def of(frame: pl.DataFrame, key: tuple[str, str, str]) -> pl.DataFrame:
        return frame.filter((pl.col("arm") == key[0]) & (pl.col("stage") == key[1]) & (pl.col("model") == key[2]))

    def add(frame: pl.DataFrame, col, name: str) -> None:
        nonlocal out
        out = out.join(frame.select(*on, (pl.col(col) if isinstance(col, str) else col).alias(name)), on=on, how="left")

    interval = pl.format("[{}, {}]", "ci_lo", "ci_hi")
    for key in order:
        add(of(plain, key), "accuracy", f"acc {labels[key]}")
        add(of(plain, key), interval, f"ci {labels[key]}")
    forced = s.filter(pl.col("budget_rounds") > 0)
    for key in order:
        mine = of(forced, key)
        if mine.height:  # the largest number of rounds this model was forced for
            add(
                mine.filter(pl.col("budget_rounds") == mine["budget_rounds"].max()), "accuracy", f"acc {labels[key]}+BF"
            )
    for key in order:
        add(of(plain, key), "sample_tags", f"tags {labels[key]}")
    for key in order:
        add(of(plain, key), "tagged_verdict_rate", f"verdicts {labels[key]}")
    return out.sort(on)


def eval_stage(run: RunDir, cfg: EvalConfig) -> dict[str, Any]:
    """Reads the run's `questions` (kept out of eval) and the models to evaluate (default: the base model and
    `RUN/models/sft` when there); appends to `eval`.

    Every stage is scored on the same held-out questions with the same prompt (variant + demonstrations).
    """
    models = list(cfg.models)
    if not models:
        models = [{"model": cfg.model, "stage": "base"}]
        sft_dir = run.path / "models" / "sft"
        if (sft_dir / "config.json").is_file():
            models.append({"model": str(sft_dir), "stage": "sft"})
    fewshot = resolve_fewshot(run, cfg)
    questions, removed = eval_questions(run, cfg, [m.get("model") for m in models], fewshot)
    results = [
        evaluate_model(
            run,
            m.get("model"),
            m.get("stage", "model"),
            cfg,
            questions=questions,
            fewshot=fewshot,
            arm=m.get("arm", ""),
        )
        for m in models
    ]
    summ = summary_frame(run)
    return {
        "models": results,
        "prompt": prompt_setup(cfg.variant, fewshot),
        "overlap_removed": removed,
        "summary": summ.to_dicts() if summ.height else [],
    }
