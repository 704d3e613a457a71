"""Generate stage: N samples per question x prompt variant -> `rollouts` part files.

Resumable by construction: each row's id hashes its inputs (question, variant, sample index,
model, sampling, seed), rows already on disk are skipped, and each chunk is written as one
atomic part file, so `kill -9` loses at most the chunk in flight and a rerun fills exactly
the gap.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from sfdata.engines.base import Engine, SamplingParams
from sfdata.prompts import DEFAULT_VARIANTS, fewshot_messages, messages
from sfdata.stagecfg import from_dict
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.tasks import Question, get_task


@dataclass
class GenerateConfig:
    model: str | None = None  # None = embedded SmolLM2
    engine: str = "auto"
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    n: int = 4  # samples per question x variant
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int = 0
    chunk: int = 32  # rows per part file (the most a hard kill can lose)
    batch_size: int = 16  # engine batch
    fewshot: int = 0  # worked demonstrations before the question (helps tiny models use <answer> tags)
    engine_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> GenerateConfig:
        return from_dict(cls, d)

    def sampling(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed
        )


def model_name(model: str | None) -> str:
    from sfdata.models import model_label

    return model_label(model)


def plan(questions: list[Question], cfg: GenerateConfig) -> list[dict[str, Any]]:
    """Every (question, variant, sample) job with its stable rollout id, in a fixed order."""
    task_cache: dict[str, Any] = {}
    skey = cfg.sampling().key()
    mname = model_name(cfg.model)
    jobs = []
    for q in questions:
        task = task_cache.setdefault(q.task, get_task(q.task))
        for variant in cfg.variants:
            msgs = fewshot_messages(variant, task, cfg.fewshot, q.level or None) + messages(variant, task, q)
            for s in range(cfg.n):
                extra = (cfg.fewshot,) if cfg.fewshot else ()
                rid = stable_id(q.question_id, variant, s, mname, skey, cfg.seed, *extra)
                jobs.append({"rollout_id": rid, "question": q, "variant": variant, "sample_idx": s, "messages": msgs})
    return jobs


def load_questions(run: RunDir) -> list[Question]:
    df = run.read("questions")
    if df.height == 0:
        raise FileNotFoundError(
            f"{run.path} has no questions.parquet; create questions first (`sf questions {run.path}`)"
        )
    return [Question.from_row(r) for r in df.iter_rows(named=True)]


def _progress(total: int, done: int, label: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def run_jobs(
    run: RunDir,
    table: str,
    jobs: list[dict[str, Any]],
    engine: Engine,
    sampling: SamplingParams,
    chunk: int,
    to_rows,
    label: str,
) -> dict[str, Any]:
    """Shared chunked loop for generation-like stages: generate, convert, append one part per chunk."""
    total_tokens = 0
    written = 0
    t0 = time.perf_counter()
    with _progress(len(jobs), 0, label) as prog:
        bar = prog.add_task(label, total=len(jobs), rate="")
        for c0 in range(0, len(jobs), chunk):
            part = jobs[c0 : c0 + chunk]
            sp = SamplingParams(**{**asdict(sampling), "n": 1, "seed": sampling.seed + c0})
            tb = time.perf_counter()
            comps = engine.generate([j["messages"] if "raw" not in j else j["raw"] for j in part], sp)
            dt = time.perf_counter() - tb
            rows = to_rows(part, [c[0] for c in comps], dt / max(1, len(part)))
            run.append(table, pl.DataFrame(rows))
            written += len(rows)
            total_tokens += sum(c[0].completion_tokens for c in comps)
            el = time.perf_counter() - t0
            prog.update(bar, advance=len(part), rate=f"{written / el:.2f} rows/s  {total_tokens / el:.0f} tok/s")
    el = time.perf_counter() - t0
    return {
        "written": written,
        "tokens": total_tokens,
        "seconds": round(el, 2),
        "tokens_per_s": round(total_tokens / el, 1) if el else 0.0,
    }


def generate_stage(run: RunDir, cfg: GenerateConfig, engine: Engine | None = None) -> dict[str, Any]:
    questions = load_questions(run)
    jobs = plan(questions, cfg)
    have = run.ids("rollouts")
    todo = [j for j in jobs if j["rollout_id"] not in have]
    info: dict[str, Any] = {"planned": len(jobs), "existing": len(jobs) - len(todo)}
    if not todo:
        return {**info, "written": 0}
    own = engine is None
    engine = engine or _engine(cfg)
    sampling = cfg.sampling()

    def to_rows(part, comps, latency):
        now = now_utc()
        return [
            {
                "rollout_id": j["rollout_id"],
                "question_id": j["question"].question_id,
                "task": j["question"].task,
                "variant": j["variant"],
                "sample_idx": j["sample_idx"],
                "prompt": j["messages"][-1]["content"],
                "response": c.text,
                "model": model_name(cfg.model),
                "engine": engine.name,
                "temperature": cfg.temperature,
                "top_p": cfg.top_p,
                "max_tokens": cfg.max_tokens,
                "seed": cfg.seed,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "finish_reason": c.finish_reason,
                "latency_s": latency,
                "created_at": now,
            }
            for j, c in zip(part, comps)
        ]

    try:
        info.update(run_jobs(run, "rollouts", todo, engine, sampling, cfg.chunk, to_rows, "generate"))
    finally:
        if own:
            engine.close()
    return info


def _engine(cfg: GenerateConfig) -> Engine:
    from sfdata.engines import get_engine

    return get_engine(cfg.engine, cfg.model, batch_size=cfg.batch_size, **cfg.engine_options)
