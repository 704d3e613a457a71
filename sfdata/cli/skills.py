"""Detect skill events (samples, verdicts, retries, backtracks, confirmations, cue words) into skills.parquet."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path)


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console, existing_run
    from sfdata.skills import skills_stage

    run_dir = existing_run(args.run)
    info = skills_stage(run_dir)
    run_dir.set_stage("skills", "done", info=info)
    console.print(f"skills: {info['rows']} rows ({', '.join(f'{k} {v}' for k, v in info['by_source'].items())})")
    console.print("see `sf query skill_frequency --run RUN` and `sf query skill_by_source --run RUN`")
    return 0
