"""Supervised fine-tuning (TRL SFTTrainer) on a run's kept traces, a local file, or a published SFT set."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.stagecfg import add_config_args
    from sftrain.sft import SFTRunConfig

    p.add_argument(
        "data",
        help="run dir, local Parquet/JSON(L) file or folder, or Hub id "
        "(e.g. SkillFactory/SFT_DATA-cd3args-main-Qwen2.5-1.5B-Instruct-SkillFactory)",
    )
    p.add_argument("--all", action="store_true", help="ignore labels (default: drop traces labelled drop)")
    p.add_argument(
        "--step-config",
        type=Path,
        default=None,
        help="JSON of every setting (what `sf run` writes for an arm step it launches); flags override it",
    )
    add_config_args(p, SFTRunConfig)


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import json_section
    from sfdata.output import console
    from sfdata.stagecfg import config_from
    from sftrain.sft import SFTRunConfig, run_sft

    section = json_section(args.step_config)
    section["data"] = args.data
    if args.all or "kept_only" not in section:
        section["kept_only"] = not args.all
    cfg = config_from(SFTRunConfig, section, args)
    s = run_sft(cfg, log=lambda m: console.print(f"[yellow]{m}"))
    console.print(
        f"trained {s['steps']} steps on {s['examples']} examples in {s['seconds']}s; "
        f"loss {s['first_loss']:.3f} -> {s['last_loss']:.3f}; saved to {s['output_dir']}"
    )
    return 0
