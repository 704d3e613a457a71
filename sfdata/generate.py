"""Generate stage: N samples per question x prompt variant -> `rollouts` part files.

Resumable by construction: each row's id hashes its inputs (question, variant, sample index,
model, sampling, seed), rows already on disk are skipped, and each chunk is written as one
atomic part file, so `kill -9` loses at most the chunk in flight and a rerun fills exactly
the gap. Each row's request is seeded with its own seed, derived from its id (`job_seed`) and
stored in the row's `seed` column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sfdata.engines.base import Engine
from sfdata.generation import engine_for, job_seed, run_jobs
from sfdata.prompts import DEFAULT_VARIANTS, fewshot_messages, messages
from sfdata.stagecfg import EngineConfig, SamplingConfig, opt
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.tasks import Question, get_task


@dataclass
class GenerateConfig(SamplingConfig, EngineConfig):
    """`[generate]` section and `sf generate` flags (engine and sampling options come from the mixins)."""

    variants: tuple[str, ...] = opt(DEFAULT_VARIANTS, "prompt variants", metavar="VARIANT")
    n: int = opt(4, "samples per question x variant", min=1)
    chunk: int = opt(32, "rows per part file (the most a hard kill can lose)", min=1)
    fewshot: int = opt(0, "worked demonstrations before each question (helps tiny models use <answer> tags)", min=0)


def model_name(model: str | None) -> str:
    from sfdata.models import model_label

    return model_label(model)


def plan(questions: list[Question], cfg: GenerateConfig) -> list[dict[str, Any]]:
    """Every (question, variant, sample) job with its stable rollout id, in a fixed order (as a list)."""
    return list(iter_plan(questions, cfg))


def plan_size(questions: list[Question], cfg: GenerateConfig) -> int:
    return len(questions) * len(cfg.variants) * max(0, cfg.n)


def iter_plan(questions: list[Question], cfg: GenerateConfig) -> Iterator[dict[str, Any]]:
    """The jobs of `plan`, one at a time: `--n 2000000` once built 2 M dicts (90 s, 1.6 GB) before
    its first request; streamed, the first chunk goes out at once and memory stays one chunk."""
    task_cache: dict[str, Any] = {}
    skey = cfg.sampling().key()
    mname = model_name(cfg.model)
    extra = (cfg.fewshot,) if cfg.fewshot else ()
    for q in questions:
        task = task_cache.setdefault(q.task, get_task(q.task))
        for variant in cfg.variants:
            msgs = fewshot_messages(variant, task, cfg.fewshot, q.level or None) + messages(variant, task, q)
            for s in range(cfg.n):
                rid = stable_id(q.question_id, variant, s, mname, skey, cfg.seed, *extra)
                yield {
                    "rollout_id": rid,
                    "question": q,
                    "variant": variant,
                    "sample_idx": s,
                    "messages": msgs,
                    "seed": job_seed(rid, cfg.seed),
                }


def load_questions(run: RunDir) -> list[Question]:
    df = run.read("questions")
    if df.height == 0:
        raise FileNotFoundError(
            f"{run.path} has no questions.parquet; create questions first (`sf questions {run.path}`)"
        )
    return [Question.from_row(r) for r in df.iter_rows(named=True)]


def generate_stage(run: RunDir, cfg: GenerateConfig, engine: Engine | None = None) -> dict[str, Any]:
    """Sample the planned rollouts that are not on disk yet. Reads `questions`; appends `rollouts`.

    An engine passed in stays open (the caller owns it); one created from `cfg` is closed here.
    """
    questions = load_questions(run)
    planned = plan_size(questions, cfg)
    have = run.ids("rollouts")  # what is on disk: bounded by the run, not by the plan
    seen = [0]

    def todo_jobs() -> Iterator[dict[str, Any]]:  # the plan, streamed, minus what is on disk
        for j in iter_plan(questions, cfg):
            seen[0] += 1
            if j["rollout_id"] not in have:
                yield j

    todo = todo_jobs()
    first = next(todo, None)
    if first is None:  # nothing to do: no engine (no model load) for a finished run
        return {"planned": planned, "existing": planned, "written": 0}
    sampling = cfg.sampling()
    with engine_for(engine, cfg.engine, cfg.model, cfg.batch_size, cfg.options()) as eng:
        to_rows = _to_rows(cfg, eng.name)
        info = run_jobs(run, "rollouts", chain([first], todo), eng, sampling, cfg.chunk, to_rows, "generate",
                        total=max(1, planned - len(have)))  # fmt: skip
    return {"planned": planned, "existing": seen[0] - info["written"], **info}


def _to_rows(cfg: GenerateConfig, engine_name: str):
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
                "engine": engine_name,
                "temperature": cfg.temperature,
                "top_p": cfg.top_p,
                "max_tokens": cfg.max_tokens,
                "seed": j["seed"],  # this row's own sampling seed
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "finish_reason": c.finish_reason,
                "latency_s": latency,
                "created_at": now,
            }
            for j, c in zip(part, comps)
        ]

    return to_rows
