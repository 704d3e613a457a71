"""Parquet I/O with canonical schemas and atomic writes.

Every write goes to a temp file in the destination folder, is fsynced, then `os.replace`d
into place, so a crash (even `kill -9`) leaves either the old file or the new one, never a
partial file. Reads validate each file and name the path of any file that cannot be read.
"""

from __future__ import annotations

import io
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sfdata.store.identity import file_identity
from sfdata.store.schemas import schema_of, types_of

if TYPE_CHECKING:  # Polars is imported where a frame is read or written: `sf query`/`sf sql` never need it
    import polars as pl
from sfdata.store.tempfiles import new_temp_file


class SchemaError(ValueError):
    """A frame or file does not match the canonical schema of its table."""


class CorruptFileError(OSError):
    """A Parquet file in a run cannot be read (truncated, not Parquet, wrong schema)."""

    def __init__(self, path: Path, cause: BaseException | str):
        self.path = Path(path)
        super().__init__(f"cannot read {self.path}: {cause}")


def conform(df: pl.DataFrame, schema: Mapping[str, pl.DataType], table: str = "table") -> pl.DataFrame:
    """Select the schema's columns in order, cast to its dtypes; a missing column is an error.

    Extra columns are dropped on purpose: the schema in code is the contract.
    """
    import polars as pl

    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise SchemaError(f"{table}: missing column(s) {', '.join(missing)}; have {', '.join(df.columns) or 'none'}")
    try:
        return df.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])
    except Exception as e:  # polars raises several types for bad casts
        raise SchemaError(f"{table}: column types do not match the schema: {e}") from e


def empty_frame(table: str) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema=schema_of(table))


def write_parquet_atomic(df: pl.DataFrame, path: str | Path) -> Path:
    """Write `df` to `path` via temp file + fsync + os.replace."""
    path = Path(path)
    tmp = new_temp_file(path)
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def new_part_name() -> str:
    """Part files sort by creation time; the uuid keeps concurrent writers apart."""
    return f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"


def list_parts(folder: str | Path) -> list[Path]:
    """Committed part files of a table folder, oldest first (temp files are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("part-*.parquet") if p.is_file())


OnCorrupt = Literal["raise", "skip"]


_SCHEMAS: dict[tuple, frozenset[str]] = {}  # (path, inode, size, mtime_ns) -> column names


ColumnReader = Callable[[Path], Iterable[str]]


def polars_columns(path: Path | io.BytesIO) -> list[str]:
    """Column names from the footer; a path is opened here, so Polars never globs it (`g[1]` is not `g1`)."""
    import polars as pl

    if isinstance(path, io.BytesIO):
        return list(pl.read_parquet_schema(path))
    with open(path, "rb") as fh:
        return list(pl.read_parquet_schema(fh))


def file_columns(path: Path, reader: ColumnReader | None = None) -> frozenset[str]:
    """Column names of a Parquet file, cached per process by (path, inode, size, mtime).

    Part files are written once (temp + rename, so a rewrite is a new inode), so a warm process
    (inspector, `sf serve`, notebooks) validates a run of many parts without re-reading footers.
    `reader` reads the footer (default Polars; the DuckDB views pass DuckDB's, so they never import Polars).
    """
    key = file_identity(path)
    got = _SCHEMAS.get(key)
    if got is None:
        got = frozenset((reader or polars_columns)(path))
        if len(_SCHEMAS) > 100_000:
            _SCHEMAS.clear()
        _SCHEMAS[key] = got
    return got


def check_file(
    path: Path | io.BytesIO, table: str, name: Path | None = None, reader: ColumnReader | None = None
) -> None:
    """Raise CorruptFileError unless `path` is a readable Parquet file holding the table's columns."""
    name = Path(name if name is not None else path)  # type: ignore[arg-type]
    try:
        file_schema = file_columns(path, reader) if not isinstance(path, io.BytesIO) else polars_columns(path)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CorruptFileError(name, f"not a readable Parquet file ({type(e).__name__}: {first})") from e
    finally:
        if isinstance(path, io.BytesIO):
            path.seek(0)
    from sfdata.store.schemas import LATER_COLUMNS

    late = LATER_COLUMNS.get(table, {})  # added later: older parts lack them and read back with a default
    missing = [c for c in types_of(table) if c not in file_schema and c not in late]
    if missing:
        raise CorruptFileError(name, f"missing column(s) {', '.join(missing)} of table {table!r}")


_FAMILY = {"VARCHAR": "string", "INTEGER": "integer", "BIGINT": "integer", "DOUBLE": "number", "BOOLEAN": "boolean"}


def wrong_column_types(path: Path, table: str) -> str | None:
    """Why a part cannot be read as `table` (a column of the wrong type, e.g. numbers stored as text), in one
    line; None when its columns fit. Reads the Parquet footer only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sfdata.store.schemas import duck_schema

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as e:
        return f"unreadable ({' '.join(str(e).split())[:300]})"
    for name, want in duck_schema(table).items():
        if name not in schema.names:
            continue
        t = schema.field(name).type
        if pa.types.is_null(t) or pa.types.is_dictionary(t):
            continue
        fam = _FAMILY.get(want)
        ok = {
            "string": pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
            "integer": pa.types.is_integer(t),
            "number": pa.types.is_integer(t) or pa.types.is_floating(t),
            "boolean": pa.types.is_boolean(t),
            None: (pa.types.is_list(t) or pa.types.is_large_list(t)) if want.endswith("[]") else True,
        }[fam]
        if not ok:
            return f"column {name} is {t}, expected {want}"
    return None


def readable_files(
    paths: Iterable[Path], table: str, on_corrupt: OnCorrupt = "raise", reader: ColumnReader | None = None
) -> list[Path]:
    """Validate each file; refuse (default) or skip-with-warning the unreadable ones."""
    good: list[Path] = []
    for p in paths:
        try:
            check_file(p, table, reader=reader)
        except CorruptFileError as e:
            if on_corrupt == "raise":
                raise
            warnings.warn(f"skipping {e}", stacklevel=2)
            continue
        good.append(p)
    return good


def _with_later_columns(df: pl.DataFrame, schema: Mapping[str, pl.DataType], table: str) -> pl.DataFrame:
    """Parts written before a column was added (schemas.LATER_COLUMNS) get it with its default (or null)."""
    import polars as pl

    from sfdata.store.schemas import LATER_COLUMNS

    late = {c: v for c, v in LATER_COLUMNS.get(table, {}).items() if c not in df.columns}
    return df.with_columns([pl.lit(v, dtype=schema[c]).alias(c) for c, v in late.items()]) if late else df


def read_files(paths: Iterable[Path], table: str, on_corrupt: OnCorrupt = "raise") -> pl.DataFrame:
    """Read files of one table into one frame with the canonical schema.

    Each file is opened once and read from memory: a single-file table replaced by another process
    between Polars' footer read and its page reads would otherwise look truncated.
    """
    import polars as pl

    schema = schema_of(table)
    frames = []
    for p in paths:
        try:
            data = io.BytesIO(Path(p).read_bytes())
            check_file(data, table, name=p)
            frames.append(conform(_with_later_columns(pl.read_parquet(data), schema, table), schema, table))
        except CorruptFileError as e:
            if on_corrupt == "raise":
                raise
            warnings.warn(f"skipping {e}", stacklevel=2)
        except SchemaError as e:
            if on_corrupt == "raise":
                raise CorruptFileError(p, e) from e
            warnings.warn(f"skipping {p}: {e}", stacklevel=2)
        except Exception as e:  # data pages can be corrupt even when the footer reads
            if on_corrupt == "raise":
                raise CorruptFileError(p, f"{type(e).__name__}: {e}") from e
            warnings.warn(f"skipping {p}: {e}", stacklevel=2)
    return pl.concat(frames, how="vertical") if frames else empty_frame(table)
