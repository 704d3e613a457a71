"""Extract and grade the final <answer> of every rollout into grades.parquet."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from sfdata.cli._common import cell, console, existing_run
    from sfdata.grading import grade_stage

    run_dir = existing_run(args.run)
    info = grade_stage(run_dir)
    run_dir.set_stage("grade", "done", info=info)
    t = Table(title=f"{info['graded']} rollouts graded, accuracy {info['accuracy']:.1%}")
    t.add_column("reason")
    t.add_column("rows", justify="right")
    for reason, n in info["reasons"].items():
        t.add_row(cell(reason), cell(n))
    console.print(t)
    return 0
