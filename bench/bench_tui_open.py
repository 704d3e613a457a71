"""Inspector startup on a 1M-trace run: the real Textual app (headless, via its Pilot) until the
first page of the trace table is on screen, vs an eager viewer: the same app's boot time on an
empty run plus loading every trace into memory with Polars (both measured here)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import polars as pl
from _bigrun import big_run
from _common import report


async def open_app(path: Path) -> tuple[float, int, int]:
    from tui.app import InspectorApp

    t0 = time.perf_counter()
    app = InspectorApp(path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        while app.queries.busy:  # a loaded machine: the first page may come after the query worker's wait
            await pilot.pause(0.01)
        await pilot.pause()
        rows = app.query_one("DataTable").row_count
        dt = time.perf_counter() - t0
        total = app.total
    return dt, rows, total


def eager(path: Path) -> tuple[float, int]:
    from sfdata.store import RunDir

    t0 = time.perf_counter()
    df = pl.read_parquet([str(p) for p in RunDir(path).files("traces")])
    page = df.head(200).with_columns(pl.col("trace").str.len_chars().alias("length"))
    return time.perf_counter() - t0, df.height + page.height * 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--traces", type=int, default=1_000_000)
    args = ap.parse_args()
    n = 100_000 if args.quick else args.traces
    run = big_run(n)
    import tui.app  # noqa: F401  (import cost is not part of opening a run)

    times = [asyncio.run(open_app(run.path)) for _ in range(3)]
    t_app, rows, total = min(times)
    assert rows == 200 and total == n, (rows, total)
    from sfdata.store import RunDir

    empty = RunDir(run.path.parent / "empty_run").init({})
    t_boot = min(asyncio.run(open_app(empty.path))[0] for _ in range(3))
    t_eager = min(eager(run.path)[0] for _ in range(2))
    report(
        "tui_open",
        t_app,
        t_boot + t_eager,
        "s",
        f"Textual app to first page on {n:,} traces (DuckDB paging) vs boot on an empty run ({t_boot:.2f}s) + eager load of all traces ({t_eager:.2f}s)",
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
