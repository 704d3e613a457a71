"""A synthetic run with many traces (and their skills rows), built with vectorised Polars
expressions and cached, for the SQL and TUI benches."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from sfdata.factory.registry import DEFAULT_FORMATS
from sfdata.store import RunDir
from sfdata.store.run import now_utc
from sfdata.store.schemas import TRACES

FORMATS = list(DEFAULT_FORMATS)


def big_run(n: int, root: Path | None = None) -> RunDir:
    """The cached run under `root` (default $SF_BENCH_DIR, else /tmp/sf_bench: set it to keep a bench's run
    apart from other benches running on the same machine)."""
    root = root if root is not None else Path(os.environ.get("SF_BENCH_DIR", "/tmp/sf_bench"))
    path = root / f"run_{n}"
    run = RunDir(path)
    if (path / "skills.parquet").is_file():
        from sfdata.store.parquet import polars_columns
        from sfdata.store.schemas import SKILLS

        if set(SKILLS) <= set(polars_columns(path / "skills.parquet")):
            return run
        import shutil  # built by an older version (fewer skills columns): build it again

        shutil.rmtree(path)
    run.init({"synthetic": True, "traces": n})
    i = pl.int_range(0, n, eager=True).alias("i")
    df = pl.DataFrame(i)
    h = pl.col("i").hash(seed=1)
    k = (h % 4 + 1).cast(pl.Int32)  # samples per trace
    fmt = (h % len(FORMATS)).replace_strict(list(range(len(FORMATS))), FORMATS, return_dtype=pl.String)
    # every trace distinct (like real ones), ~300 characters per sample
    sample = pl.format(
        "<sample>\nPuzzle {}: I combine the numbers {} and {} first, then the rest: ({} + {}) * {}.\n"
        "<answer>({} + {}) * {}</answer>\n</sample>\n<reflect>\nChecking ({} + {}) * {} step by step: "
        "it does not reach the target.\n<verdict>Incorrect</verdict>\n</reflect>\nLet me try again.\n",
        pl.col("i"),
        h % 97,
        h % 89,
        h % 97,
        h % 89,
        h % 13,
        h % 97,
        h % 89,
        h % 13,
        h % 97,
        h % 89,
        h % 13,
    )
    trace = pl.concat_str(
        [
            pl.lit("<think>\n"),
            sample.repeat_by(k).list.join(""),
            pl.lit("</think>\n\nSo the answer is:\n\n<answer>\n(3 + 4) * 5\n</answer>"),
        ]
    )
    now = now_utc()
    traces = df.select(
        pl.format("t{}", pl.col("i")).alias("trace_id"),
        pl.format("q{}", pl.col("i") // 8).alias("question_id"),
        pl.lit("countdown").alias("task"),
        fmt.alias("format"),
        pl.lit(None, pl.String).alias("ablation"),
        pl.lit("main").alias("purpose"),
        k.alias("n_samples"),
        pl.lit("Use the numbers [3, 4, 5] to make 35.").alias("prompt"),
        trace.alias("trace"),
        pl.lit("(3 + 4) * 5").alias("final_answer"),
        ((h % 3) > 0).alias("is_correct"),
        pl.lit([], pl.List(pl.String)).alias("rollout_ids"),
        pl.lit([], pl.List(pl.String)).alias("reflection_ids"),
        pl.lit([], pl.List(pl.String)).alias("variants"),
        (k - 1).alias("n_correct"),
        pl.lit(1, pl.Int32).alias("n_incorrect"),
        (k - 1).alias("n_retries"),
        ((h % 7) == 3).cast(pl.Int32).alias("n_backtracks"),
        ((h % 7) == 4).cast(pl.Int32).alias("n_confirms"),
        pl.lit(0, pl.Int64).alias("seed"),
        pl.lit(now).alias("created_at"),
    ).cast(TRACES)
    chunk = 250_000
    for c0 in range(0, n, chunk):
        run.append("traces", traces.slice(c0, chunk))
    skills = df.select(
        pl.format("t{}", pl.col("i")).alias("id"),
        pl.lit("trace").alias("source"),
        k.alias("n_samples"),
        k.alias("n_reflections"),
        k.alias("n_verdicts"),
        pl.lit(1, pl.Int32).alias("n_verdict_correct"),
        (k - 1).alias("n_verdict_incorrect"),
        k.alias("n_verdict_right"),
        pl.lit(1, pl.Int32).alias("n_verdict_tp"),  # every verdict right: 1 Correct, k - 1 Incorrect
        pl.lit(0, pl.Int32).alias("n_verdict_fp"),
        (k - 1).alias("n_verdict_tn"),
        pl.lit(0, pl.Int32).alias("n_verdict_fn"),
        (k - 1).alias("n_retries"),
        ((h % 7) == 3).cast(pl.Int32).alias("n_backtracks"),
        ((h % 7) == 4).cast(pl.Int32).alias("n_confirms"),
        pl.lit(True).alias("final_matches_last"),
        (h % 5 == 0).cast(pl.Int32).alias("cue_wait"),
        pl.lit(0, pl.Int32).alias("cue_verify"),
        pl.lit(0, pl.Int32).alias("cue_alternatively"),
        k.alias("cue_check"),
        pl.lit(False).alias("malformed"),
    ).cast(SKILLS)
    run.write("skills", skills)
    return run
