"""Rearrange graded rollouts + valid reflections into SkillFactory traces (all formats, ablations, STaR)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sfdata.factory import ABLATIONS, FORMATS

    p.add_argument("run", type=Path)
    p.add_argument("--formats", nargs="+", default=None, choices=FORMATS, help="default: all but star")
    p.add_argument("--n", type=int, default=3, help="samples per trace")
    p.add_argument("--n-range", type=int, nargs=2, default=None, metavar=("LO", "HI"), help="sample N per trace")
    p.add_argument("--repeats", type=int, default=1, help="traces per question and format")
    p.add_argument("--ablation", default=None, choices=ABLATIONS)
    p.add_argument("--variant", default="original", help="the variant kept by no_prompt_diversity")
    p.add_argument("--no-unique-variants", action="store_true", help="do not prefer distinct prompt variants")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=5000, help="traces per part file")
    p.add_argument(
        "--replace",
        action="store_true",
        help="make the traces table exactly this build (default: add to it, skipping existing ids)",
    )
    p.add_argument("--workers", type=int, default=0, help="assembly processes (0: all cores for >= 20k questions)")


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from sfdata.cli._common import cell, console, existing_run
    from sfdata.factory.build import DEFAULT_FORMATS, BuildConfig, build_stage

    run_dir = existing_run(args.run)
    cfg = BuildConfig(
        formats=tuple(args.formats or DEFAULT_FORMATS),
        n=args.n,
        n_range=tuple(args.n_range) if args.n_range else None,
        repeats=args.repeats,
        unique_variants=not args.no_unique_variants,
        ablation=args.ablation,
        variant=args.variant,
        seed=args.seed,
        chunk=args.chunk,
        workers=args.workers,
    )
    cfg.validate()
    info = build_stage(run_dir, cfg, replace=args.replace)
    run_dir.set_stage("build", "done", info=info)
    t = Table(title=f"{info['traces']} traces ({info['written']} new, {info['existing']} already there)")
    if info.get("other_traces_kept"):
        console.print(
            f"note: {info['other_traces_kept']} traces from earlier builds with other settings stay in the table "
            "(use --replace to keep only this build)",
            markup=False,
        )
    t.add_column("format")
    t.add_column("traces", justify="right")
    for f, n in info["per_format"].items():
        t.add_row(cell(f), cell(n))
    console.print(t)
    if info["skipped"]:
        s = Table(title="skipped (format:reason)")
        s.add_column("format:reason")
        s.add_column("questions", justify="right")
        for k, v in info["skipped"].items():
            s.add_row(cell(k), cell(v))
        console.print(s)
    return 0
