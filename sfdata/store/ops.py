"""The table operations callers used to improvise: replace a table, drop rows, set a label.

Each is atomic for readers: single files are replaced by temp + rename, a parts table by the one
folder exchange (`store.dirswap`), and a part that loses some rows is rewritten in place by rename.
`RunDir.replace`, `RunDir.drop_rows` and `RunDir.set_label` are the entry points.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfdata.store.schemas import TABLES, schema_of

if TYPE_CHECKING:
    import polars as pl

    from sfdata.store.run import RunDir

LABEL_VALUES = ("keep", "drop")


def replace_table(run: RunDir, table: str, df: pl.DataFrame, chunk: int = 5000) -> int:
    """Make `df` the whole of `table`; readers see the old table or the new one, never a part of either.

    A parts table is written into a staging folder in parts of `chunk` rows, its row count checked,
    then exchanged with the old folder in one step. Returns the rows written.
    """
    import polars as pl

    from sfdata.store.dirswap import staged_dir
    from sfdata.store.parquet import conform, new_part_name, write_parquet_atomic

    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    df = conform(df, schema_of(table), table)
    if TABLES[table][2] == "single":
        write_parquet_atomic(df, run.table_path(table))
        return df.height
    with staged_dir(run.table_path(table)) as staging:
        for c0 in range(0, df.height, chunk):
            write_parquet_atomic(df.slice(c0, chunk), staging / new_part_name())
        written = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in staging.glob("part-*.parquet"))
        if written != df.height:  # never swap in a table that lost rows
            raise RuntimeError(f"{table}: staged {written} of {df.height} rows; the old table is kept")
    return df.height


def drop_rows(run: RunDir, table: str, **equal: Any) -> int:
    """Delete the rows whose columns equal all of `equal` (e.g. `arm="rl_only", stage="rl"`); returns the count.

    A part holding only such rows is removed; a part holding some is rewritten without them (atomic);
    files lacking one of the columns (written before it existed) hold none of them.
    """
    import polars as pl

    from sfdata.store.parquet import conform, write_parquet_atomic

    if not equal:
        raise ValueError("drop_rows needs at least one column=value")
    removed = 0
    for part in run.files(table):
        if not set(equal) <= set(pl.read_parquet_schema(part)):
            continue
        df = pl.read_parquet(part)
        mine = pl.all_horizontal([pl.col(c) == v for c, v in equal.items()])
        keep = df.filter(~mine.fill_null(False))
        gone = df.height - keep.height
        if not gone:
            continue
        if keep.height == 0:
            part.unlink()
        else:
            write_parquet_atomic(conform(keep, schema_of(table), table), part)
        removed += gone
    return removed


def set_label(
    labels_file: Path, trace_id: str, label: str | None, note: str | None = None, *, now: Any = None
) -> pl.DataFrame:
    """Set keep/drop (None clears) and/or a note for one trace in a labels file; returns all labels.

    Read-merge-write under the file's lock: other writers' labels are kept, only this trace's row
    changes, and the file is replaced atomically.
    """
    import polars as pl

    from sfdata.store.lock import file_lock
    from sfdata.store.parquet import read_files, write_parquet_atomic
    from sfdata.store.run import now_utc

    if label is not None and label not in LABEL_VALUES:
        raise ValueError(f"label must be keep, drop or None, got {label!r}")
    labels_file = Path(labels_file)
    with file_lock(labels_file):
        rows = read_files([labels_file] if labels_file.is_file() else [], "labels")
        old = rows.filter(pl.col("trace_id") == trace_id)
        old_note = old["note"][0] if old.height else None
        note = old_note if note is None else note
        rows = rows.filter(pl.col("trace_id") != trace_id)
        if label is not None or note:
            one = {"trace_id": [trace_id], "label": [label], "note": [note], "updated_at": [now or now_utc()]}
            rows = pl.concat([rows, pl.DataFrame(one, schema=schema_of("labels"))])
        write_parquet_atomic(rows, labels_file)
    return rows
