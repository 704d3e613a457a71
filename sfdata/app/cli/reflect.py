"""Ask the model to verify each graded rollout (K reflections each); report verdict precision/recall/F1."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.app.cli._common import add_stage_args

    add_stage_args(p, "reflect")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, run_stage_command

    info = run_stage_command(args, "reflect")
    if info.get("skipped") is True:
        return 0
    m = info["metrics"]
    console.print(
        f"reflections {m.get('reflections', 0)}, parsed verdicts {m.get('parsed', 0)}, valid {m.get('valid', 0)}"
    )
    if m.get("parsed"):
        console.print(
            f"verdict precision {m['precision']:.3f} recall {m['recall']:.3f} F1 {m['f1']:.3f} "
            f"(F1 of 'Incorrect' {m['f1_incorrect']:.3f})"
        )
    return 0
