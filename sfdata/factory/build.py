"""Build stage: rollouts + grades + valid reflections -> SkillFactory traces.

The heavy lifting is vectorised: one Polars join/group_by turns the run's tables into one row
per question holding its samples (with their valid reflections). Only the per-trace choice
and string assembly run in Python. Each question gets its own seeded RNG derived from stable
ids, so results do not depend on processing order and a resumed build reproduces the same ids.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator

import polars as pl

from sfdata.factory.formats import ABLATIONS, FORMATS, STRUCTURAL_TAGS, Sample, Skip, choose, render
from sfdata.stagecfg import from_dict
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.store.schemas import TRACES

DEFAULT_FORMATS = ("0C", "*C", "*C_full", "*C*IC", "*CC", "random", "no_reflection")


@dataclass
class BuildConfig:
    formats: tuple[str, ...] = DEFAULT_FORMATS
    n: int = 3  # samples per trace (upper bound; formats use what the question has)
    n_range: tuple[int, ...] | None = None  # sampled N: draw N uniformly from [lo, hi] per trace
    repeats: int = 1  # traces per question and format
    unique_variants: bool = True  # prefer samples from different prompt variants within a trace
    ablation: str | None = None  # no_sample_order | no_reflections | no_prompt_diversity
    variant: str = "original"  # the one variant kept by no_prompt_diversity
    seed: int = 0
    chunk: int = 5000  # rows per part file

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "BuildConfig":
        cfg = from_dict(cls, d)
        cfg.formats = tuple(cfg.formats)
        if cfg.n_range is not None:
            cfg.n_range = tuple(cfg.n_range)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise ValueError(f"unknown format(s) {bad}; known: {', '.join(FORMATS)}")
        if self.ablation is not None and self.ablation not in ABLATIONS:
            raise ValueError(f"unknown ablation {self.ablation!r}; known: {', '.join(ABLATIONS)}")
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if self.n_range is not None and (len(self.n_range) != 2 or not 1 <= self.n_range[0] <= self.n_range[1]):
            raise ValueError("n_range must be [lo, hi] with 1 <= lo <= hi")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")


def samples_by_question(rollouts: pl.DataFrame, grades: pl.DataFrame, reflections: pl.DataFrame) -> pl.DataFrame:
    """One row per question_id with a list of sample structs (valid reflections attached)."""
    valid = (
        reflections.filter(pl.col("is_valid").fill_null(False))
        .sort("rollout_id", "reflection_idx")
        .group_by("rollout_id")
        .agg(pl.struct(pl.col("reflection_id"), pl.col("text")).alias("refls"))
    )
    joined = (
        rollouts.select("rollout_id", "question_id", "variant", "sample_idx", "response")
        .join(grades.select("rollout_id", "extracted_answer", "is_correct"), on="rollout_id", how="inner")
        .join(valid, on="rollout_id", how="left")
        .sort("question_id", "variant", "sample_idx", "rollout_id")
    )
    tags = "|".join(STRUCTURAL_TAGS)
    resp = pl.col("response").fill_null("")
    clean = (resp.str.strip_chars() != "") & pl.col("extracted_answer").is_not_null() & ~resp.str.contains(tags)
    return joined.with_columns(clean.alias("clean")).group_by("question_id", maintain_order=True).agg(
        pl.struct("rollout_id", "variant", "response", "extracted_answer", "is_correct", "refls", "clean").alias("samples")
    )


def _to_samples(structs: list[dict]) -> list[Sample]:
    return [
        Sample(
            rollout_id=s["rollout_id"], variant=s["variant"], response=s["response"] or "",
            answer=s["extracted_answer"], is_correct=bool(s["is_correct"]),
            reflections=tuple((r["reflection_id"], r["text"]) for r in (s["refls"] or [])),
            clean=s.get("clean"),
        )
        for s in structs
    ]


def iter_traces(grouped: pl.DataFrame, prompts: dict[str, str], tasks: dict[str, str], cfg: BuildConfig,
                skipped: Counter) -> Iterator[dict[str, Any]]:
    """Trace rows for every question x format x repeat; skips are counted as `format:reason`."""
    created = now_utc()
    reflections_on = cfg.ablation != "no_reflections"
    order_on = cfg.ablation != "no_sample_order"
    for qid, structs in grouped.select("question_id", "samples").iter_rows():
        samples = _to_samples(structs)
        if cfg.ablation == "no_prompt_diversity":
            samples = [s for s in samples if s.variant == cfg.variant]
        prompt = prompts.get(qid)
        if prompt is None:
            skipped["*:unknown_question"] += 1
            continue
        for fmt in cfg.formats:
            for rep in range(cfg.repeats):
                rng = random.Random(stable_id(cfg.seed, qid, fmt, rep, cfg.ablation))
                n = rng.randint(*cfg.n_range) if cfg.n_range else cfg.n
                try:
                    traces = choose(fmt, samples, n, rng, reflections=reflections_on,
                                    unique_variants=cfg.unique_variants and cfg.ablation != "no_prompt_diversity",
                                    sample_order=order_on)
                except Skip as e:
                    skipped[f"{fmt}:{e.reason}"] += 1
                    continue
                for t in traces:
                    text = render(t, rng)
                    steps = t.steps
                    n_retries = sum(1 for i, s in enumerate(steps[:-1]) if not s.sample.is_correct)
                    yield {
                        "trace_id": stable_id(qid, fmt, cfg.ablation, rep, t.rollout_ids, t.reflection_ids, text),
                        "question_id": qid, "task": tasks.get(qid, ""), "format": fmt, "ablation": cfg.ablation,
                        "n_samples": len(steps), "prompt": prompt, "trace": text, "final_answer": t.final.answer,
                        "is_correct": t.final.is_correct, "rollout_ids": t.rollout_ids,
                        "reflection_ids": t.reflection_ids, "variants": t.variants,
                        "n_correct": sum(s.sample.is_correct for s in steps),
                        "n_incorrect": sum(not s.sample.is_correct for s in steps),
                        "n_retries": n_retries, "n_backtracks": t.n_backtracks, "n_confirms": t.n_confirms,
                        "seed": cfg.seed, "created_at": created,
                    }


def question_prompts(questions: pl.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """User message per question: the `original` prompt variant when the task is registered."""
    from sfdata import prompts as pv
    from sfdata.tasks import Question, get_task

    out, tasks, cache = {}, {}, {}
    for row in questions.iter_rows(named=True):
        q = Question.from_row(row)
        tasks[q.question_id] = q.task
        try:
            task = cache.setdefault(q.task, get_task(q.task))
            out[row["question_id"]] = pv.render("original", task, q)
        except KeyError:
            out[row["question_id"]] = q.question
    return out, tasks


def build_traces(run: RunDir, cfg: BuildConfig) -> tuple[pl.DataFrame, Counter]:
    """All traces of `cfg` for a run, in memory (deterministic), plus skip counts."""
    cfg.validate()
    rollouts, grades = run.read("rollouts"), run.read("grades")
    if rollouts.height == 0 or grades.height == 0:
        raise FileNotFoundError(f"{run.path} needs graded rollouts; run `sf generate` and `sf grade` first")
    grouped = samples_by_question(rollouts, grades, run.read("reflections"))
    prompts, tasks = question_prompts(run.read("questions"))
    skipped: Counter = Counter()
    rows = list(iter_traces(grouped, prompts, tasks, cfg, skipped))
    df = pl.DataFrame(rows, schema=TRACES) if rows else pl.DataFrame(schema=TRACES)
    return df.unique("trace_id", keep="first", maintain_order=True), skipped


def build_stage(run: RunDir, cfg: BuildConfig) -> dict[str, Any]:
    t0 = time.perf_counter()
    df, skipped = build_traces(run, cfg)
    have = run.ids("traces")
    todo = df.filter(~pl.col("trace_id").is_in(list(have))) if have else df
    for c0 in range(0, todo.height, cfg.chunk):
        run.append("traces", todo.slice(c0, cfg.chunk))
    per_format = dict(df.group_by("format").len().sort("format").iter_rows()) if df.height else {}
    return {"traces": df.height, "written": todo.height, "existing": df.height - todo.height,
            "per_format": per_format, "skipped": dict(sorted(skipped.items())),
            "seconds": round(time.perf_counter() - t0, 2)}
