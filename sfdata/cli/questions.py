"""Create (or extend) a run with generated task questions."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="run directory to create or extend")
    p.add_argument("--task", default="countdown", help="task name (sf tasks lists them)")
    p.add_argument("--n", type=int, default=16, help="number of questions")
    p.add_argument("--level", type=int, default=None, help="difficulty (countdown: count of numbers, 3..6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="train")
    p.add_argument("--low", type=int, default=None, help="countdown: smallest number")
    p.add_argument("--high", type=int, default=None, help="countdown: largest number")


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console, esc
    from sfdata.pipeline import QuestionsConfig, questions_stage
    from sfdata.store import RunDir

    if args.n <= 0:
        raise ValueError("--n must be positive")
    opts = {k: v for k, v in (("low", args.low), ("high", args.high)) if v is not None}
    run_dir = RunDir(args.run).init()
    info = questions_stage(run_dir, QuestionsConfig(args.task, args.n, args.level, args.seed, args.split, opts))
    run_dir.set_stage("questions", "done", info=info)
    console.print(f"[green]{esc(args.run)}[/]: {info['added']} new question(s), {info['questions']} in total")
    return 0
