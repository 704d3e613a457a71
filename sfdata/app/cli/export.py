"""Export a run's curated traces (labels respected) to: the published SFT schema (`sft`),
TRL `messages`, LLaMA-Factory `sharegpt` (+ dataset_info.json), verl RL parquet (`verl`),
or the published raw sampling schema (`raw`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.hub.export import EXPORT_FORMATS

    p.add_argument("run", type=Path)
    p.add_argument("--to", nargs="+", default=["sft"], choices=EXPORT_FORMATS, help="one or more formats")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN/exports)")
    p.add_argument("--all-traces", action="store_true", help="ignore keep/drop labels")
    p.add_argument("--name", default=None, help="dataset name used in dataset_info.json (default: run name)")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, existing_run
    from sfdata.hub.export import export

    run_dir = existing_run(args.run)
    out = args.out or run_dir.path / "exports"
    for fmt in args.to:
        for f in export(run_dir.path, fmt, out, kept_only=not args.all_traces, name=args.name):
            console.print(f"{fmt:<9} {f}", markup=False, highlight=False)
    return 0
