"""Load a published SkillFactory dataset (SFT `conversations` or RAW sampling schema) from the Hub
or a local folder/file into a run directory, ready for `sf query`, `sf inspect`, `sf build`, `sf sft`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="Hub id (e.g. SkillFactory/SFT_DATA-cd3args-main-Qwen2.5-1.5B-Instruct-SkillFactory) or local path",
    )
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--config", default=None, help="dataset config (published SFT sets use sft_train)")
    p.add_argument("--split", default="train")
    p.add_argument("--task", default="countdown")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console
    from sfdata.hub.pull import pull

    info = pull(args.source, args.run, config=args.config, split=args.split, task=args.task)
    for k, v in info.items():
        if k != "bad":
            console.print(f"{k:<20} {v}", markup=False)
    return 0
