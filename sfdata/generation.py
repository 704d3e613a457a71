"""Generation jobs: one place that owns engines and runs the chunked generate -> rows -> part loop.

Used by the generate (`rollouts`), reflect and eval stages. A job is a dict
with `messages` (a chat) or `raw` (templated text), and `seed`: the seed owned by that row
(`job_seed`), derived from the row's stable id. Every request is seeded with its own job's
seed, so the N samples of one prompt differ on per-request engines (vLLM, OpenAI servers) and
a row gets the same seed whatever the chunking or the resume order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import asdict
from itertools import islice
from typing import Any

import polars as pl

from sfdata.engines.base import Completion, Engine, SamplingParams
from sfdata.store import RunDir
from sfdata.store.ids import seed_from_id

# (jobs of one chunk, their completions, seconds per row) -> rows of the stage's table
ToRows = Callable[[list[dict[str, Any]], list[Completion], float], list[dict[str, Any]]]


def job_seed(row_id: str, base_seed: int) -> int:
    """The sampling seed of one row: a function of its id and the configured seed only."""
    return seed_from_id(row_id, base_seed)


@contextmanager
def engine_for(
    engine: Engine | None,
    kind: str = "auto",
    model: str | None = None,
    batch_size: int = 16,
    options: dict[str, Any] | None = None,
) -> Iterator[Engine]:
    """Use the caller's engine as is, or create one from the config and close it afterwards.

    The caller keeps ownership of an engine it passed in (e.g. one loaded model shared by
    several stages); an engine created here is always closed, also when generation fails.
    """
    if engine is not None:
        yield engine
        return
    from sfdata.engines import get_engine

    own = get_engine(kind, model, batch_size=batch_size, **(options or {}))
    try:
        yield own
    finally:
        own.close()


def _progress(label: str):
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


def generate_jobs(engine: Engine, jobs: list[dict[str, Any]], sampling: SamplingParams) -> list[Completion]:
    """One completion per job, each request seeded with its job's `seed`."""
    missing = [i for i, j in enumerate(jobs) if "seed" not in j]
    if missing:
        raise ValueError(f"{len(missing)} generation job(s) without a seed (first at {missing[0]}); see job_seed")
    sp = SamplingParams(**{**asdict(sampling), "n": 1})
    prompts = [j["raw"] if "raw" in j else j["messages"] for j in jobs]
    comps = engine.generate(prompts, sp, seeds=[int(j["seed"]) for j in jobs])
    return [c[0] for c in comps]


def run_jobs(
    run: RunDir,
    table: str,
    jobs: Iterable[dict[str, Any]],
    engine: Engine,
    sampling: SamplingParams,
    chunk: int,
    to_rows: ToRows,
    label: str,
    total: int | None = None,
) -> dict[str, Any]:
    """Generate `jobs` in chunks; each chunk becomes one atomic part file of `table` (resumable).

    `jobs` may be a generator: it is read one chunk at a time, so a run of millions of rows sends its
    first request at once and holds one chunk in memory; `total` sizes the progress bar when it has no len().
    """
    total_tokens = 0
    written = 0
    size = max(1, chunk)
    total = len(jobs) if total is None and isinstance(jobs, Sized) else total
    t0 = time.perf_counter()
    it = iter(jobs)
    with _progress(label) as prog:
        bar = prog.add_task(label, total=total, rate="")
        while part := list(islice(it, size)):
            tb = time.perf_counter()
            comps = generate_jobs(engine, part, sampling)
            dt = time.perf_counter() - tb
            rows = to_rows(part, comps, dt / max(1, len(part)))
            run.append(table, pl.DataFrame(rows))
            written += len(rows)
            total_tokens += sum(c.completion_tokens for c in comps)
            el = time.perf_counter() - t0
            prog.update(bar, advance=len(part), rate=f"{written / el:.2f} rows/s  {total_tokens / el:.0f} tok/s")
    el = time.perf_counter() - t0
    return {
        "written": written,
        "tokens": total_tokens,
        "seconds": round(el, 2),
        "tokens_per_s": round(total_tokens / el, 1) if el else 0.0,
    }
