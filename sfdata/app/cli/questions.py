"""Create (or extend) a run with generated task questions."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "questions")
    p.add_argument("--low", type=int, default=None, help="countdown: smallest number (same as --options low=N)")
    p.add_argument("--high", type=int, default=None, help="countdown: largest number (same as --options high=N)")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, esc, run_stage_command, stage_config
    from sfdata.store import RunDir

    cfg = stage_config(args, "questions")
    extra = {k: v for k, v in (("low", args.low), ("high", args.high)) if v is not None}
    if extra:
        args.options = {**cfg.options, **extra}
    info = run_stage_command(args, "questions", run=RunDir(args.run).init())
    if info.get("skipped") is not True:
        console.print(f"[green]{esc(args.run)}[/]: {info['added']} new question(s), {info['questions']} in total")
    return 0
