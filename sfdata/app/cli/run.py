"""Run every pipeline stage from one TOML/YAML config; completed stages are skipped, interrupted ones resume."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="TOML or YAML config (see configs/)")
    p.add_argument("--run", type=Path, default=None, help="run directory (default: [run].dir or runs/[run].name)")
    p.add_argument("--force", nargs="*", default=(), help="stages to rerun even if done")
    p.add_argument("--only", nargs="*", default=(), help="run only these stages")
    p.add_argument(
        "--dry-run", action="store_true", help="validate the config and print the plan (counts, GPU-hours); run nothing"
    )


def run(args: argparse.Namespace) -> int:
    from sfdata.app.pipeline import load_config, run_pipeline
    from sfdata.output import console, emit, esc
    from sfdata.store import RunDir

    cfg = load_config(args.config)
    if args.dry_run:
        from sfdata.app.plan import format_plan, make_plan

        print(f"plan for {args.config} (dry run: nothing is run or written)")
        print("\n".join(format_plan(make_plan(cfg))))
        return 0
    from sfdata.app.plan import validate

    validate(cfg)  # the dry run's checks (held-out question counts included) fail now, not an hour into the run
    out = run_pipeline(
        cfg,
        args.run,
        tuple(args.force),
        tuple(args.only),
        log=lambda msg: console.print(msg, markup=False, highlight=False),
    )
    run_dir = RunDir(out["run"])
    if "report" in out["stages"]:
        from sfdata.report import print_report

        print_report(run_dir, console, out["stages"]["report"])
    if "eval" in cfg:
        from sftrain.eval import before_after

        table = before_after(run_dir)
        if table.height:
            emit(
                table,
                "table",
                None,
                title="eval: accuracy and <sample>-tag use, before/after SFT (+BF = budget forcing)",
            )
    if "experiment" in cfg and (not args.only or "experiment" in args.only):
        from sfdata.app.cli._common import emit
        from sfdata.app.experiment_report import arm_table, display_columns
        from sfdata.store import RunDir

        table = arm_table(RunDir(out["run"]), cfg["experiment"].get("arms", ()))
        if table.height:
            title = (
                "experiment: accuracy [95% CI] (n questions), budget forcing, paired differences, SFT data, skill use"
            )
            emit(table.select(display_columns(table)), "table", None, title=title)
    console.print(f"[green]done[/]: {esc(out['run'])}")
    return 0
