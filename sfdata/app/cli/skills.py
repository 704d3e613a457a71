"""Detect skill events (samples, verdicts, retries, backtracks, confirmations, cue words) into skills.parquet."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "skills")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, run_stage_command

    info = run_stage_command(args, "skills")
    if info.get("skipped") is not True:
        console.print(f"skills: {info['rows']} rows ({', '.join(f'{k} {v}' for k, v in info['by_source'].items())})")
    console.print("see `sf query skill_frequency --run RUN` and `sf query skill_by_source --run RUN`")
    return 0
