"""GRPO (TRL GRPOTrainer) on Countdown questions with a reward from the task graders."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="start model (e.g. an SFT output dir; default: embedded SmolLM2)")
    p.add_argument("--output", default="models/rl")
    p.add_argument("--preset", default="cpu", choices=["cpu", "paper"])
    p.add_argument("--task", default="countdown")
    p.add_argument("--level", type=int, default=3)
    p.add_argument("--n-questions", type=int, default=None, help="RL questions (default: preset's; paper 1000)")
    p.add_argument("--questions-from", default=None, help="use a run's questions")
    p.add_argument(
        "--exclude-from", nargs="*", default=[], help="run dirs whose questions are training data (kept out of RL)"
    )
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--format-reward", action="store_true", help="add a 0.1 bonus for one well-formed <answer>")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16-mixed", "fp16-mixed", "bf16"])
    p.add_argument("--set", action="append", default=[], metavar="K=V", help="override any TRL GRPOConfig field")


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console
    from sfdata.models import check_model_arg
    from sftrain.cli.sft import parse_overrides
    from sftrain.rl import RLRunConfig, run_rl

    check_model_arg(args.model)
    cfg = RLRunConfig(
        model=args.model,
        output_dir=args.output,
        preset=args.preset,
        task=args.task,
        level=args.level,
        n_questions=args.n_questions,
        questions_from=args.questions_from,
        exclude_from=tuple(args.exclude_from),
        seed=args.seed,
        format_reward=args.format_reward,
        precision=args.precision,
        overrides=parse_overrides(args.set),
    )
    s = run_rl(cfg, log=console.print)
    console.print(
        f"GRPO: {s['steps']} steps on {s['questions']} questions ({s['overlap_removed']} removed as training "
        f"overlap) in {s['seconds']}s (vLLM: {s['vllm']}, {s['precision']}); rewards per step {s['rewards']}; "
        f"saved to {s['output_dir']}"
    )
    return 0
