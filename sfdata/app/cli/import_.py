"""Import a published raw sampling set (`SkillFactory/RAW_DATA-*` schema) from the Hub or a local
Parquet/JSON(L) file into a run: questions, rollouts, grades (re-graded by our grader) and
reflections. Bad rows are reported by row number and written to RUN/import_report.parquet."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="Hub dataset id (e.g. SkillFactory/RAW_DATA-countdown3args-Qwen2.5-1.5B-Instruct) or a local file/folder",
    )
    p.add_argument("--run", type=Path, required=True, help="run directory to create or extend")
    p.add_argument("--task", default="countdown")
    p.add_argument("--config", default=None, help="Hub dataset config name")
    p.add_argument("--split", default="train")
    p.add_argument(
        "--model",
        default=None,
        help="model label for imported rows without a `model` column (default: the model in a RAW_DATA-<task>-<model> name, else imported:<source>)",
    )
    p.add_argument("--show-bad", type=int, default=20, help="bad rows listed on screen")


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from sfdata.app.cli._common import cell, console, esc
    from sfdata.hub.raw import import_raw

    res = import_raw(args.source, args.run, task=args.task, model=args.model, config=args.config, split=args.split)
    t = Table(title=f"imported {esc(args.source)} -> {esc(args.run)}")
    t.add_column("what")
    t.add_column("count", justify="right")
    for k, v in res.summary().items():
        t.add_row(cell(k), cell(v))
    console.print(t)
    for b in res.bad_rows[: args.show_bad]:
        console.print(f"[yellow]bad[/] {esc(b)}", markup=True, highlight=False)
    if len(res.bad_rows) > args.show_bad:
        console.print(f"... {len(res.bad_rows) - args.show_bad} more in {args.run}/import_report.parquet", markup=False)
    console.print(f"next: sf build {args.run}", markup=False)
    return 0
