"""Sample N responses per question x prompt variant into rollouts Parquet. Rerun to resume."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "generate")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, run_stage_command

    info = run_stage_command(args, "generate")
    if info.get("skipped") is not True:
        console.print(
            f"planned {info['planned']}, already there {info['existing']}, written {info.get('written', 0)}"
            + (f" ({info['tokens_per_s']} tok/s)" if info.get("tokens_per_s") else "")
        )
    return 0
