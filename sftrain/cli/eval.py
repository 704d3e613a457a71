"""Accuracy and skill use on Countdown (3-6 numbers) and OOD tasks, optionally with budget forcing."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model to evaluate (default: embedded SmolLM2)")
    p.add_argument("--stage", default="model", help="label stored with the rows (base, sft, rl, ...)")
    p.add_argument("--arm", default="", help="experiment arm stored with the rows (sf query experiment_table)")
    p.add_argument("--run", type=Path, default=Path("runs/eval"), help="run dir for the eval table")
    p.add_argument(
        "--tasks", nargs="+", default=["countdown:3,4,5,6"], help="task[:levels], e.g. countdown:3,4 multiplication:2"
    )
    p.add_argument("--n-questions", type=int, default=8, help="per task x level")
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=256, help="total budget per answer, forced rounds included")
    p.add_argument("--budget-forcing", type=int, default=0, help="extra rounds after </think>")
    p.add_argument("--engine", default="auto", choices=["auto", "transformers", "vllm", "openai"])
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--variant", default="original", help="prompt variant (the same for every model you compare)")
    p.add_argument(
        "--fewshot", type=int, default=None, help="demonstrations per question (default: as the run's [generate])"
    )
    p.add_argument(
        "--exclude-from", nargs="*", default=[], help="run dirs whose questions were training data (kept out of eval)"
    )


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console, emit
    from sfdata.models import check_model_arg
    from sfdata.store import RunDir
    from sftrain.eval import EvalConfig, evaluate_model, summary_frame

    if args.engine != "openai":  # an OpenAI server's model name is not a path or Hub id
        check_model_arg(args.model)
    run_dir = RunDir(args.run).init() if not (args.run / "manifest.json").exists() else RunDir(args.run)
    cfg = EvalConfig(
        model=args.model,
        tasks=tuple(args.tasks),
        n_questions=args.n_questions,
        samples=args.samples,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        budget_forcing=args.budget_forcing,
        seed=args.seed,
        engine=args.engine,
        variant=args.variant,
        fewshot=args.fewshot,
        exclude_from=tuple(args.exclude_from),
    )
    info = evaluate_model(run_dir, args.model, args.stage, cfg, log=console.print, arm=args.arm)
    console.print(
        f"{info['model']} ({info['stage']}, prompt {info['prompt']}): {info['written']} new rows in {args.run}"
    )
    emit(summary_frame(run_dir), "table", None, title="eval: accuracy and skill use")
    return 0
