"""Extract and grade the final <answer> of every rollout into grades.parquet."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "grade")


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from sfdata.app.cli._common import cell, console, run_stage_command

    info = run_stage_command(args, "grade")
    if info.get("skipped") is True:
        return 0
    t = Table(title=f"{info['graded']} rollouts graded, accuracy {info['accuracy']:.1%}")
    t.add_column("reason")
    t.add_column("rows", justify="right")
    for reason, n in info["reasons"].items():
        t.add_row(cell(reason), cell(n))
    console.print(t)
    return 0
