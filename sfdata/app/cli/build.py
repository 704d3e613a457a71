"""Rearrange graded rollouts + valid reflections into SkillFactory traces (all formats, ablations, STaR)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "build")
    p.add_argument(
        "--replace",
        action="store_true",
        help="make the traces table exactly this build (default: add to it, skipping existing ids)",
    )


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import run_stage_command

    if args.replace:
        args.force = True  # replacing is an explicit request to rebuild
    info = run_stage_command(args, "build", replace=args.replace)
    if info.get("skipped") is not True:
        print_build(info)
    return 0


def print_build(info: dict) -> None:
    from rich.table import Table

    from sfdata.app.cli._common import cell, console

    t = Table(title=f"{info['traces']} traces ({info['written']} new, {info['existing']} already there)")
    if info.get("other_traces_kept"):
        console.print(
            f"note: {info['other_traces_kept']} traces from earlier builds with other settings stay in the table "
            "(use --replace to keep only this build)",
            markup=False,
        )
    t.add_column("format")
    t.add_column("traces", justify="right")
    for f, n in info["per_format"].items():
        t.add_row(cell(f), cell(n))
    console.print(t)
    if info["skipped"]:
        s = Table(title="skipped (format:reason)")
        s.add_column("format:reason")
        s.add_column("questions", justify="right")
        for k, v in info["skipped"].items():
            s.add_row(cell(k), cell(v))
        if any("clean_correct" in k for k in info["skipped"]):
            s.caption = (
                "*_clean_correct: correct samples exist but contain trace tags (e.g. <think>), so none is usable"
            )
        console.print(s)
