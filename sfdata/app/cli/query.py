"""Run a named SQL query from queries/ over a run (`sf query --list` shows them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sfdata.app.cli._common import add_output_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="query name (file stem in queries/)")
    p.add_argument("--run", type=Path, default=None, help="run directory")
    p.add_argument(
        "--file", type=Path, default=None, help="run this .sql file (same read-only rules) instead of a name"
    )
    p.add_argument("--list", action="store_true", help="list the named queries")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="query parameter (repeatable)")
    add_output_args(p)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from sfdata import queries
    from sfdata.app.cli._common import cell, console, emit, existing_run

    if args.list or not (args.name or args.file):
        t = Table(title="named queries (sf query NAME --run RUN)")
        t.add_column("name")
        t.add_column("answers")
        t.add_column("params")
        for q in queries.available():
            t.add_row(cell(q.name), cell(q.description), cell(", ".join(q.params)))
        console.print(t)
        return 0
    if args.run is None:
        raise ValueError("--run RUN is required")
    params = {}
    for kv in args.param:
        if "=" not in kv:
            raise ValueError(f"--param expects K=V, got {kv!r}")
        k, v = kv.split("=", 1)
        params[k] = queries.parse_value(v)
    if args.name and args.file:
        raise ValueError("give a query name or --file PATH, not both")
    query = queries.load(args.file) if args.file else args.name
    title = args.file.stem if args.file else args.name
    if args.fmt == "table" and args.out is None:  # printed rows need no Polars frame
        from sfdata.output import emit_rows

        columns, types, rows = queries.query_rows(existing_run(args.run), query, params)
        emit_rows(columns, types, rows, title=title, limit=args.limit)
        return 0
    df = queries.run_query(existing_run(args.run), query, params)
    emit(df, args.fmt, args.out, title=title, limit=args.limit)
    return 0
