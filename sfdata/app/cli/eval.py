"""Accuracy and skill use on Countdown (3-6 numbers) and OOD tasks, optionally with budget forcing."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.stagecfg import add_config_args
    from sftrain.eval import EvalConfig

    p.add_argument("--stage", default="model", help="label stored with the rows (base, sft, rl, ...)")
    p.add_argument("--arm", default="", help="experiment arm stored with the rows (sf query experiment_table)")
    p.add_argument("--run", type=Path, default=Path("runs/eval"), help="run dir for the eval table")
    add_config_args(p, EvalConfig)


def run(args: argparse.Namespace) -> int:
    from sfdata.app.stages import run_stage
    from sfdata.models import check_model_arg
    from sfdata.output import console, emit
    from sfdata.stagecfg import config_from
    from sfdata.store import RunDir
    from sftrain.eval import EvalConfig, summary_frame

    cfg = config_from(EvalConfig, {"preset": getattr(args, "preset", None)}, args)
    if cfg.engine != "openai":  # an OpenAI server's model name is not a path or Hub id
        check_model_arg(cfg.model)
    run_dir = RunDir(args.run).init() if not (args.run / "manifest.json").exists() else RunDir(args.run)
    cfg.models = [{"model": cfg.model, "stage": args.stage, **({"arm": args.arm} if args.arm else {})}]
    # the eval stage's record and bookkeeping, one manifest entry per model label
    info = run_stage(run_dir, "eval", cfg, key="/".join(["eval", *([args.arm] if args.arm else []), args.stage]))
    for m in info.get("models", []):
        console.print(f"{m['model']} ({m['stage']}, prompt {m['prompt']}): {m['written']} new rows in {args.run}")
    emit(summary_frame(run_dir), "table", None, title="eval: accuracy and skill use")
    return 0
