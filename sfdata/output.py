"""Printing for every package: the shared rich consoles, markup escaping and `emit` (a frame as a table,
CSV, JSON or Parquet). It lives outside `cli/` so the report and training packages print without importing the CLI.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console(stderr=False)
err = Console(stderr=True)


def esc(value: object) -> str:
    """User data (answers, paths, names) made safe to embed in rich markup: `[/]` or `[bold red]` print as text."""
    from rich.markup import escape

    return escape(str(value))


def cell(value: object):
    """A table cell that rich never parses as markup."""
    from rich.text import Text

    return Text("" if value is None else str(value))


def emit(df, fmt: str, out: Path | None, title: str = "", limit: int = 200) -> None:
    """Print or save a Polars frame as a rich table, CSV, JSON or Parquet (never into a run's tables)."""
    import sys

    if out is not None:
        from sfdata.store.run import refuse_run_internals

        refuse_run_internals(out)

    if fmt == "parquet":
        if out is None:
            raise ValueError("--format parquet needs --out FILE")
        from sfdata.store.parquet import write_parquet_atomic

        write_parquet_atomic(df, out)
        console.print(f"wrote {df.height} rows to {esc(out)}")
        return
    if fmt in ("csv", "json"):
        text = df.write_csv() if fmt == "csv" else df.write_json()
        if out:
            from sfdata.store.run import write_text_atomic

            write_text_atomic(text, out)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    _print_table(
        list(df.schema),
        [d.is_numeric() for d in df.schema.values()],
        list(df.head(limit).iter_rows()),
        df.height,
        title,
        limit,
    )


_DUCK_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def emit_rows(columns: list[str], duck_types: list[str], rows: list[tuple], title: str = "", limit: int = 200) -> None:
    """Print DuckDB result rows as the same rich table `emit` prints for a frame, without Polars."""
    numeric = [t.upper().removeprefix("U").startswith(_DUCK_NUMERIC) for t in duck_types]  # UBIGINT etc. too
    _print_table(columns, numeric, rows[:limit], len(rows), title, limit)


def _print_table(columns: list[str], numeric: list[bool], rows: list[tuple], height: int, title: str, limit: int):
    from rich.table import Table

    caption = f"{height} row(s)" + (f", first {limit} shown" if height > limit else "")
    # min_width: a narrow result (`select 1`) would otherwise wrap its caption into "row(s" / ")"
    table = Table(title=esc(title) if title else None, caption=caption, min_width=len(caption) + 2)
    for name, num in zip(columns, numeric, strict=True):
        table.add_column(cell(name), justify="right" if num else "left", overflow="fold")
    for row in rows:
        table.add_row(*[cell(f"{v:.4g}" if isinstance(v, float) else v) for v in row])
    console.print(table)
