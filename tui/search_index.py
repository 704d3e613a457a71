"""The inspector's precomputed trace columns: one Arrow IPC file per trace-file set, built once.

Sorting, filtering and searching 1M traces over the run's Parquet parts decompresses every
trace text on each keystroke (~5 s for a search). The index holds what the table needs in a
form DuckDB scans without decoding: the narrow trace columns, `length(trace)` and
`lower(trace)` (computed by the same DuckDB `lower`, so `contains(_lower, lower(q))` is exactly
the old `contains(lower(trace), lower(q))`). The file is memory-mapped (zero copy, OS page
cache), so opening it costs milliseconds and a full-text scan runs at memory speed.

Freshness: the file records a signature of its sources (each trace file's path, size and
mtime, the DuckDB version, the index layout version); any change makes it stale and it is
rebuilt. Writes are temp file + `os.replace` under a file lock, so two inspectors never see a
half-written index and never build it twice. An unreadable index is reported and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: bumped whenever the columns or their meaning change (old files then read as stale)
INDEX_VERSION = 2
#: traces columns copied as they are (everything but the long text and the lists)
NARROW: tuple[str, ...] = (
    "trace_id",
    "question_id",
    "task",
    "format",
    "ablation",
    "purpose",
    "n_samples",
    "final_answer",
    "is_correct",
    "n_correct",
    "n_incorrect",
    "n_retries",
    "n_backtracks",
    "n_confirms",
    "seed",
    "created_at",
)
#: traces columns the index does not hold: a filter naming one runs over the Parquet parts
BIG: tuple[str, ...] = ("prompt", "trace", "rollout_ids", "reflection_ids", "variants")
_BATCH = 32_768  # rows per record batch: the unit DuckDB scans in parallel
_META = b"sf_index"


class SearchIndexError(ValueError):
    """The index cannot be used or built (truncated or foreign file, trace files changed mid-build)."""


@dataclass
class SearchIndex:
    path: Path
    table: Any  # pyarrow.Table over the memory-mapped file
    rows: int
    size: int  # bytes on disk
    sig: str = ""  # the signature it was built for

    def __repr__(self) -> str:
        return f"SearchIndex({self.path}, rows={self.rows:,}, size={self.size:,})"


def index_path(run_path: Path, traces_files: list[Path] | None) -> Path:
    """RUN/.index/traces.arrow for the run's traces; one file per explicit file set otherwise."""
    if traces_files is None:
        return Path(run_path) / ".index" / "traces.arrow"
    key = hashlib.sha1("\n".join(sorted(str(Path(p).resolve()) for p in traces_files)).encode()).hexdigest()[:12]
    return Path(run_path) / ".index" / f"traces-{key}.arrow"


def signature(files: list[Path]) -> str:
    """What the index was built from: any added, removed, replaced or touched part changes it."""
    import duckdb

    from sfdata.store.identity import files_signature

    parts = files_signature(files)
    return json.dumps({"version": INDEX_VERSION, "duckdb": duckdb.__version__, "files": parts}, sort_keys=True)


def open_index(path: Path, sig: str) -> SearchIndex | None:
    """The index at `path` if it matches `sig`; None when missing or stale; SearchIndexError when unreadable."""

    path = Path(path)
    got = _read_mapped(path, sig)
    if got is None:
        return None
    table, meta = got
    want = {*NARROW, "length", "_lower", "_row"}
    if not want <= set(table.column_names) or table.num_rows != meta.get("rows"):
        raise SearchIndexError(f"{path}: columns or row count do not match what it says it holds")
    return SearchIndex(path, table, table.num_rows, path.stat().st_size, sig)


def _read_mapped(path: Path, sig: str) -> tuple[Any, dict] | None:
    """(table, metadata) of a memory-mapped Arrow file written for `sig`; None when missing or stale;
    SearchIndexError when it cannot be trusted (truncated, foreign, damaged offsets)."""
    import pyarrow as pa

    if not path.is_file():
        return None
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
        meta = json.loads((reader.schema.metadata or {}).get(_META, b"{}"))
        if meta.get("signature") != sig:
            return None
        table = reader.read_all()
        table.validate()
        _check_offsets(table)
    except (OSError, ValueError, pa.ArrowException, json.JSONDecodeError) as e:
        raise SearchIndexError(f"{path}: {type(e).__name__}: {e}") from None
    return table, meta


def _check_offsets(table: Any) -> None:
    """Every string's offsets rise and stay inside its data buffer (what DuckDB trusts when it scans the
    memory map: a damaged offset would read outside the file). Costs ~8 bytes per row, not the text."""
    import numpy as np
    import pyarrow as pa

    for name in table.column_names:
        for chunk in table.column(name).chunks:
            if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)) or len(chunk) == 0:
                continue
            _, off_buf, data_buf = chunk.buffers()
            dtype = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            off = np.frombuffer(off_buf, dtype=dtype)[chunk.offset : chunk.offset + len(chunk) + 1]
            size = 0 if data_buf is None else data_buf.size
            if len(off) != len(chunk) + 1 or off[0] < 0 or off[-1] > size or (np.diff(off) < 0).any():
                raise SearchIndexError(f"column {name}: string offsets out of order or outside the data")


def side_path(index: Path, name: str) -> Path:
    """A table aligned row by row with the index (RUN/.index/traces.NAME.arrow)."""
    return index.with_name(f"{index.stem}.{name}.arrow")


def open_side(path: Path, sig: str, rows: int) -> Any | None:
    """A side table written for `sig` with `rows` rows; None when missing or stale; SearchIndexError if unreadable."""
    got = _read_mapped(path, sig)
    if got is None:
        return None
    table = got[0]
    if table.num_rows != rows:
        raise SearchIndexError(f"{path}: {table.num_rows} rows, the index has {rows}")
    return table


def write_side(table: Any, path: Path, sig: str) -> None:
    """Write a side table atomically (temp file + fsync + os.replace, under the file's lock)."""
    import pyarrow as pa

    from sfdata.store.lock import file_lock
    from sfdata.store.tempfiles import new_temp_file

    meta = json.dumps({"signature": sig, "rows": table.num_rows}).encode()
    table = table.replace_schema_metadata({_META: meta})
    with file_lock(path):
        tmp = new_temp_file(path)
        try:
            with open(tmp, "wb") as fh:
                with pa.ipc.new_file(fh, table.schema) as writer:
                    writer.write_table(table, max_chunksize=_BATCH)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def build_index(
    files: list[Path], path: Path, should_stop: Callable[[], bool] | None = None, threads: int | None = None
) -> SearchIndex:
    """Build (or, when another process just built it, reuse) the index of `files` at `path`.

    Holds `path`'s file lock for the build: a second inspector waits, then opens the first one's file.
    `should_stop` is asked between batches (an app quitting mid-build): the temp file is then removed.
    `threads` caps DuckDB's threads (the app builds in the background on one, leaving a core to the UI).
    """
    from sfdata.store.lock import file_lock

    path = Path(path)
    with file_lock(path):
        sig = signature(files)
        try:
            found = open_index(path, sig)
        except SearchIndexError:
            found = None  # the caller has already said so; it is replaced below
        if found is not None:
            return found
        _write(files, path, sig, should_stop or (lambda: False), threads)
        if signature(files) != sig:
            path.unlink(missing_ok=True)
            raise SearchIndexError("the trace files changed while they were indexed; reopen to index them again")
        built = open_index(path, sig)
    if built is None:  # pragma: no cover - written just now under the lock
        raise SearchIndexError(f"{path}: written but not readable back")
    return built


def _write(files: list[Path], path: Path, sig: str, should_stop: Callable[[], bool], threads: int | None) -> None:
    """Stream `files` through DuckDB into a temp Arrow file (fsync), then replace `path` with it."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    from sfdata.store.duck import register_view
    from sfdata.store.tempfiles import new_temp_file

    config: dict[str, Any] = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    tmp = new_temp_file(path)
    try:
        con.execute("SET arrow_large_buffer_size = true")  # long traces: 64-bit string offsets
        register_view(con, "traces", files)  # literal paths (a run named `g[1]` is not a glob)
        rows = con.sql("SELECT count(*) FROM traces").fetchall()[0][0]  # from the Parquet footers
        cols = ", ".join(f'"{c}"' for c in NARROW)
        reader = con.sql(
            f"SELECT {cols}, length(trace)::BIGINT AS length, lower(trace) AS _lower FROM traces"
        ).to_arrow_reader(_BATCH)
        meta = json.dumps({"signature": sig, "rows": rows, "built_at": time.time()}).encode()
        schema = reader.schema.append(pa.field("_row", pa.int64())).with_metadata({_META: meta})
        written = 0
        with open(tmp, "wb") as fh:
            with pa.ipc.new_file(fh, schema) as writer:
                for batch in reader:
                    if should_stop():
                        raise SearchIndexError("index build stopped")
                    row = pa.array(np.arange(written, written + batch.num_rows, dtype=np.int64))
                    writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, row], schema=schema))
                    written += batch.num_rows
            fh.flush()
            os.fsync(fh.fileno())
        if written != rows:
            raise SearchIndexError(f"indexed {written} traces, the files hold {rows}: they changed while being read")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
