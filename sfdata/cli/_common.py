"""Helpers shared by subcommands: run argument, console."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

console = Console(stderr=False)
err = Console(stderr=True)


def add_run_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    if required:
        p.add_argument("run", type=Path, help="run directory (e.g. runs/demo)")
    else:
        p.add_argument("--run", type=Path, default=None, help="run directory (e.g. runs/demo)")


def existing_run(path: Path):
    from sfdata.store import RunDir

    run = RunDir(path)
    if not run.exists():
        raise FileNotFoundError(f"run directory {path} does not exist (create it with `sf questions {path}` or `sf run CONFIG`)")
    return run
