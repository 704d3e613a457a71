"""One-page summary (counts, accuracy, verdict F1, format mix, skill use) and PNG plots in RUN/plots/."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "report")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, existing_run, run_stage_command
    from sfdata.report import print_report

    run_dir = existing_run(args.run)
    args.force = True  # the report is what this command shows: always fresh
    info = run_stage_command(args, "report", run=run_dir)
    print_report(run_dir, console, info)
    return 0
