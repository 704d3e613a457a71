"""Open the Textual trace inspector on a run directory, one of a run's trace files
(`RUN/exports/kept.parquet`, `RUN/traces/part-*.parquet`), a Parquet/JSONL file in the published
SFT or raw schema, or a Hub dataset id (pulled into a cache run first). Keys: ? for help."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="run directory, a run's trace file, local Parquet/JSONL file or folder, or Hub id")
    p.add_argument("--config", default=None, help="dataset config when SOURCE is a Hub id or dataset folder")
    p.add_argument("--split", default="train")
    p.add_argument(
        "--build-index",
        action="store_true",
        help="build (or refresh) the search index of SOURCE's traces and exit; the app otherwise builds it "
        "in the background on runs with many traces",
    )
    p.add_argument("--no-index", action="store_true", help="never use the search index (scan the Parquet parts)")


def run(args: argparse.Namespace) -> int:
    from tui.source import resolve_source

    source = resolve_source(args.source, args.config, args.split)
    if args.build_index:
        return _build_index(source)
    from tui.app import InspectorApp

    InspectorApp(source, use_index=not args.no_index).run()
    return 0


def _build_index(source) -> int:
    import time

    from tui.data import TraceStore

    store = TraceStore(source.run, source.traces_files, source.labels_path)
    try:
        if store.index is not None:
            print(f"search index is up to date: {store.index.path} ({store.index.rows:,} traces)")
            return 0
        t0 = time.perf_counter()
        idx = store.build_index()
        dt = time.perf_counter() - t0
        print(f"search index built in {dt:.1f}s: {idx.path} ({idx.rows:,} traces, {idx.size / 1e6:,.1f} MB)")
        return 0
    finally:
        store.close()
