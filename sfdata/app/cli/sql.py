"""Run ad-hoc SQL over a run's views: questions, rollouts, grades, graded, reflections, traces, labels, skills, eval."""

from __future__ import annotations

import argparse
from pathlib import Path

from sfdata.app.cli._common import add_output_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sql", help="a SQL statement")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument(
        "--write",
        action="store_true",
        help="allow statements that write files, attach databases, install extensions or reach the network",
    )
    add_output_args(p)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from sfdata.app.cli._common import emit, existing_run
    from sfdata.queries import run_sql, sql_rows

    try:
        if args.fmt == "table" and args.out is None:  # printed rows need no Polars frame (nor pyarrow)
            from sfdata.output import emit_rows

            emit_rows(*sql_rows(existing_run(args.run), args.sql, write=args.write), limit=args.limit)
            return 0
        df = run_sql(existing_run(args.run), args.sql, write=args.write)
    except duckdb.Error as e:
        raise ValueError(f"SQL error: {e}") from None
    emit(df, args.fmt, args.out, limit=args.limit)
    return 0
