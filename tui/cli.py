"""Open the Textual trace inspector on a run directory, one of a run's trace files
(`RUN/exports/kept.parquet`, `RUN/traces/part-*.parquet`), a Parquet/JSONL file in the published
SFT or raw schema, or a Hub dataset id (pulled into a cache run first). Keys: ? for help."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="run directory, a run's trace file, local Parquet/JSONL file or folder, or Hub id")
    p.add_argument("--config", default=None, help="dataset config when SOURCE is a Hub id or dataset folder")
    p.add_argument("--split", default="train")


def run(args: argparse.Namespace) -> int:
    from tui.app import InspectorApp
    from tui.source import resolve_source

    InspectorApp(resolve_source(args.source, args.config, args.split)).run()
    return 0
