"""List the registered tasks with one example question each."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from sfdata.app.cli._common import cell, console, esc
    from sfdata.tasks import get_task, task_names

    table = Table(title="tasks", show_lines=True)
    for col in ("task", "example question", "ground truth", "answer format"):
        table.add_column(col, overflow="fold")
    for name in task_names():
        try:
            task = get_task(name)
        except ImportError as e:  # a task module that is not installed
            table.add_row(name, f"[red]unavailable: {esc(e)}", "", "")
            continue
        q = task.generate(1, args.seed)[0]
        table.add_row(cell(name), cell(q.question), cell(q.answer), cell(task.answer_format))
    console.print(table)
    return 0
