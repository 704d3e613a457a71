"""Paging without a sort over the Parquet views (runs below the index threshold, or `--no-index`): every
trace exactly once, in the files' order. A labels join reorders rows between queries; ordering by file and
row within it keeps one order (before the fix, 10k traces paged 50 at a time showed ~7.7k distinct ids)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.synth import make_run
from tui.data import Filters, TraceStore


def test_unsorted_pages_cover_every_trace_once_in_file_order(tmp_path):
    run = make_run(tmp_path / "run", n_questions=1500, n=3, k=2)
    build_stage(run, BuildConfig(formats=("0C", "*C", "*C_full", "*CC", "*C*IC"), n=3))
    ids = pl.concat([pl.read_parquet(p, columns=["trace_id"]) for p in run.files("traces")])["trace_id"].to_list()
    assert len(ids) > 5000  # enough rows for DuckDB's parallel join to reorder them
    kept = ids[::3]
    now = datetime.now(UTC)
    run.write("labels", pl.DataFrame({"trace_id": kept, "label": "keep", "note": "", "updated_at": now}))
    store = TraceStore(run.path, use_index=False)
    got = [r["trace_id"] for off in range(0, len(ids), 250) for r in store.page(Filters(), offset=off, limit=250).rows]
    assert got == ids
    # with a filter on a joined-only column (the full view `t`), the same holds for the selection
    sel = [
        r["trace_id"]
        for off in range(0, len(ids), 250)
        for r in store.page(Filters(where="malformed IS NOT NULL"), offset=off, limit=250).rows
    ]
    assert sel == ids
