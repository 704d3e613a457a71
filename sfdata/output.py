"""Printing for every package: the shared rich consoles, markup escaping and `emit` (a frame as a table,
CSV, JSON or Parquet). It lives outside `cli/` so the report and training packages print without importing the CLI.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

console = Console(stderr=False)
err = Console(stderr=True)


def esc(value: object) -> str:
    """User data (answers, paths, names) made safe to embed in rich markup: `[/]` or `[bold red]` print as text."""
    from rich.markup import escape

    return escape(printable(str(value), None))


MAX_CELL_CHARS = 10_000  # a printed cell longer than this is cut, with its full length named
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (but tab, newline), DEL, C1: ESC, CSI, OSC, BEL...


def printable(text: str, limit: int | None = MAX_CELL_CHARS) -> str:
    """User data as terminal-safe text: control characters shown as `\\x1b`-style escapes (an escape
    sequence in data must never move the cursor, retitle the window or recolour the terminal), and text
    over `limit` characters cut with a `… (N chars)` marker (a 20 MB cell took rich minutes to lay out)."""
    n = len(text)
    if limit is not None and n > limit:
        text = text[:limit]
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text + f"… ({n:,} chars)" if limit is not None and n > limit else text


def cell(value: object, limit: int | None = MAX_CELL_CHARS):
    """A table cell that rich never parses as markup, with control characters escaped and huge text cut."""
    from rich.text import Text

    return Text("" if value is None else printable(str(value), limit))


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
