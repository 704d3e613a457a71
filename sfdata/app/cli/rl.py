"""GRPO (TRL GRPOTrainer) on Countdown questions with a reward from the task graders."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.stagecfg import add_config_args
    from sftrain.rl import RLRunConfig

    add_config_args(p, RLRunConfig)


def run(args: argparse.Namespace) -> int:
    from sfdata.models import check_model_arg
    from sfdata.output import console
    from sfdata.stagecfg import config_from
    from sftrain.rl import RLRunConfig, run_rl

    cfg = config_from(RLRunConfig, {}, args)
    check_model_arg(cfg.model)
    s = run_rl(cfg, log=console.print)
    console.print(
        f"GRPO: {s['steps']} steps on {s['questions']} questions ({s['overlap_removed']} removed as training "
        f"overlap) in {s['seconds']}s (vLLM: {s['vllm']}, {s['precision']}); rewards per step {s['rewards']}; "
        f"saved to {s['output_dir']}"
    )
    return 0
