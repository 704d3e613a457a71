"""GRPO (TRL GRPOTrainer) on Countdown questions with a reward from the task graders."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.stagecfg import add_config_args
    from sftrain.rl import RLRunConfig

    p.add_argument(
        "--step-config",
        type=Path,
        default=None,
        help="JSON of every setting (what `sf run` writes for an arm step it launches); flags override it",
    )
    p.add_argument(
        "--log-run", type=Path, default=None, help="run dir whose rl_log table gets skill use per logging step"
    )
    p.add_argument("--arm", default="", help="arm name of the rl_log rows (with --log-run)")
    add_config_args(p, RLRunConfig)


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import existing_run, json_section
    from sfdata.models import check_model_arg
    from sfdata.output import console
    from sfdata.stagecfg import config_from
    from sftrain.rl import RLRunConfig, run_rl
    from sftrain.rl_log import RLSkillLog

    cfg = config_from(RLRunConfig, json_section(args.step_config), args)
    check_model_arg(cfg.model)
    skill_log = RLSkillLog(existing_run(args.log_run), arm=args.arm) if args.log_run else None
    s = run_rl(cfg, log=console.print, skill_log=skill_log)
    console.print(
        f"GRPO: {s['steps']} steps on {s['questions']} questions ({s['overlap_removed']} removed as training "
        f"overlap) in {s['seconds']}s (vLLM: {s['vllm']}, {s['precision']}); rewards per step {s['rewards']}; "
        f"saved to {s['output_dir']}"
    )
    return 0
