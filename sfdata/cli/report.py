"""One-page summary (counts, accuracy, verdict F1, format mix, skill use) and PNG plots in RUN/plots/."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path)


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console, existing_run
    from sfdata.report import print_report

    print_report(existing_run(args.run), console)
    return 0
