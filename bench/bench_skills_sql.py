"""Skill frequency over 1M traces: the `skill_frequency` named query in DuckDB vs the same
aggregation in Polars (lazy scan) vs plain Python over the rows. Same answer from all three."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigrun import big_run  # noqa: E402
from _common import best_of, best_of_interleaved, report  # noqa: E402

from sfdata import skill_metrics  # noqa: E402
from sfdata.queries import run_query  # noqa: E402


def polars_version(run) -> pl.DataFrame:
    t = pl.scan_parquet([str(p) for p in run.files("traces")]).select("trace_id", "format")
    s = pl.scan_parquet(str(run.files("skills")[0])).filter(pl.col("source") == "trace")
    metrics = [skill_metrics.get(n).expr().round(3) for n in skill_metrics.QUERY_METRICS["skill_frequency"]]
    return (
        t.join(s, left_on="trace_id", right_on="id")
        .group_by("format")
        .agg(pl.len().alias("traces"), *metrics)  # the same definitions the query's SQL is rendered from
        .sort("format")
        .collect()
    )


def python_version(run) -> dict[str, tuple[int, float]]:
    import pyarrow.parquet as pq

    fmt: dict[str, str] = {}
    for p in run.files("traces"):
        tb = pq.read_table(p, columns=["trace_id", "format"])
        fmt.update(zip(tb.column("trace_id").to_pylist(), tb.column("format").to_pylist()))
    sk = pq.read_table(run.files("skills")[0], columns=["id", "source", "n_samples", "n_retries"]).to_pylist()
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for r in sk:
        if r["source"] != "trace" or r["id"] not in fmt:
            continue
        a = acc[fmt[r["id"]]]
        a[0] += 1
        a[1] += r["n_samples"]
        a[2] += r["n_retries"] > 0
    return {f: (a[0], round(a[1] / a[0], 3)) for f, a in sorted(acc.items())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--traces", type=int, default=1_000_000)
    args = ap.parse_args()
    n = 100_000 if args.quick else args.traces
    run = big_run(n)
    # interleaved, after one warm-up each: "a warm process" (imports done, file checks cached) on both sides
    (t_duck, duck), (t_pl, pol) = best_of_interleaved(
        [lambda: run_query(run, "skill_frequency"), lambda: polars_version(run)]
    )
    t_py, py = best_of(lambda: python_version(run), repeat=1)
    assert duck.rows() == pol.select(duck.columns).rows()
    assert {r[0]: (r[1], r[2]) for r in duck.select("format", "traces", "samples_per_answer").rows()} == py
    report(
        "skill_sql",
        t_duck,
        t_pl,
        "s",
        f"skill_frequency over {n:,} traces in a warm process, best of 5 interleaved: run_query (DuckDB views kept open while the files are unchanged, "
        f"file checks, result as a Polars frame) vs a Polars lazy scan; plain Python {t_py:.2f}s "
        f"({t_py / t_duck:.1f}x slower than DuckDB)",
        higher_is_better=False,
        python_s=round(t_py, 3),
    )


if __name__ == "__main__":
    main()
