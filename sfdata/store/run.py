"""A run directory: one pipeline run's tables, manifest and outputs.

Layout (DESIGN.md): `manifest.json`, `questions.parquet`, `rollouts/part-*.parquet`,
`grades.parquet`, `reflections/part-*.parquet`, `traces/part-*.parquet`, `labels.parquet`,
`skills.parquet`, `eval/part-*.parquet`, plus `plots/` and `exports/`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfdata.store.lock import file_lock, run_lock
from sfdata.store.parquet import (
    OnCorrupt,
    SchemaError,
    conform,
    list_parts,
    new_part_name,
    read_files,
    write_parquet_atomic,
)
from sfdata.store.schemas import TABLES, schema_of
from sfdata.store.tempfiles import new_temp_file

if TYPE_CHECKING:  # Polars is imported where a frame is read or written (see schemas)
    import polars as pl

_VERSIONED = ("skillfactory", "torch", "transformers", "trl", "datasets", "polars", "duckdb", "vllm")


RUN_INTERNALS = ("manifest.json", ".lock", ".index")  # besides the tables: what `--out` may never replace


def refuse_run_internals(path: str | os.PathLike[str]) -> None:
    """Raise ValueError when `path` (links resolved) is a run's table, a file inside one, or its bookkeeping.

    `--out` writes there would duplicate rows (a part file) or replace a table; other folders of a run
    (exports/, report/) stay writable."""
    p = Path(os.path.abspath(path))
    for q in {p, Path(os.path.realpath(p))}:
        for parent in q.parents:
            if (parent / "manifest.json").is_file():
                first = q.relative_to(parent).parts[0]
                names = set(RUN_INTERNALS) | set(TABLES) | {f"{t}.parquet" for t in TABLES}
                if first in names:
                    raise ValueError(f"refusing to write {path}: it is inside the run {parent}'s tables ({first})")
                break


def _with_ids(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """A row without its id could never be deduplicated, labelled or joined: refused at write."""
    id_col = TABLES[table][1]
    nulls = df[id_col].null_count()
    if nulls:
        raise SchemaError(f"{table}: {nulls} row(s) with a null {id_col}; every row needs an id")
    return df


def now_utc() -> datetime:
    return datetime.now(UTC)


def write_text_atomic(text: str, path: Path) -> Path:
    """Write text via a temp file in the same folder + fsync + os.replace: all or nothing."""
    path = Path(path)
    tmp = new_temp_file(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json_atomic(obj: Any, path: Path) -> Path:
    return write_text_atomic(json.dumps(obj, indent=2, sort_keys=True, default=str), path)


def dedupe_loudly(df: pl.DataFrame, table: str, where: Path) -> pl.DataFrame:
    """Keep the first row of each id; warn with the count when any id repeats."""
    id_col = TABLES[table][1]
    if df.height == 0 or id_col not in df.columns:
        return df
    unique = df.unique(id_col, keep="first", maintain_order=True)
    dropped = df.height - unique.height
    if dropped:
        warnings.warn(
            f"{where}: {dropped} duplicate row(s) of {table} (same {id_col}) ignored; "
            "keep one writer per run (sf takes a run lock)",
            stacklevel=3,
        )
    return unique


def package_versions() -> dict[str, str]:
    from importlib import metadata  # ~35 ms: only runs that record their manifest need it

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __init__(self, path: str | os.PathLike[str]):
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        """A RunDir is accepted wherever a path is (`Path(run)`, `open`), so packages pass the run object."""
        return str(self.path)

    # ---- layout -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    def table_path(self, table: str) -> Path:
        _, _, layout = TABLES[table]
        return self.path / table if layout == "parts" else self.path / f"{table}.parquet"

    def files(self, table: str) -> list[Path]:
        """Committed files of a table (parts oldest first, or the single file)."""
        p = self.table_path(table)
        if TABLES[table][2] == "parts":
            return list_parts(p)
        return [p] if p.is_file() else []

    def exists(self) -> bool:
        return self.path.is_dir()

    def has(self, table: str) -> bool:
        return bool(self.files(table))

    # ---- reading ------------------------------------------------------------------------
    def read(self, table: str, on_corrupt: OnCorrupt = "raise") -> pl.DataFrame:
        """All rows of a table with its canonical schema (empty frame if none).

        A row id present twice (two writers before the run lock existed, or a copied part file)
        is kept once, with a warning naming the count: never silently.
        """
        df = read_files(self.files(table), table, on_corrupt)
        return dedupe_loudly(df, table, self.table_path(table))

    def ids(self, table: str, on_corrupt: OnCorrupt = "raise") -> set[str]:
        """Ids already present in a table: what a resumed stage skips."""
        id_col = TABLES[table][1]
        from sfdata.store.parquet import readable_files

        files = readable_files(self.files(table), table, on_corrupt)
        if not files:
            return set()
        import polars as pl

        return set(pl.read_parquet(files, columns=[id_col], glob=False)[id_col].to_list())  # literal paths

    # ---- writing ------------------------------------------------------------------------
    @contextmanager
    def lock(self, owner: str | None = None, wait: float = 0.0) -> Iterator[RunDir]:
        """Hold this run's writer lock for a whole stage or command (re-entrant in one process).

        Raises RunBusyError ("run ... is busy (pid N: COMMAND)") when another process writes to it.
        Taking it also removes temp files that a killed writer left in the run.
        """
        with run_lock(self.path, owner, wait):
            yield self

    def append(self, table: str, df: pl.DataFrame) -> Path | None:
        """Add one part file to a parts table (atomic). Empty frames write nothing."""
        if TABLES[table][2] != "parts":
            raise ValueError(f"{table} is a single-file table; use write()")
        if df.height == 0:
            return None
        df = _with_ids(conform(df, schema_of(table), table), table)
        self._refuse_link(self.table_path(table))
        return write_parquet_atomic(df, self.table_path(table) / new_part_name())

    def write(self, table: str, df: pl.DataFrame) -> Path:
        """Replace a single-file table atomically."""
        if TABLES[table][2] != "single":
            raise ValueError(f"{table} is a parts table; use append()")
        self._refuse_link(self.table_path(table))
        return write_parquet_atomic(_with_ids(conform(df, schema_of(table), table), table), self.table_path(table))

    def _refuse_link(self, path: Path) -> None:
        """Writers never act through a symbolic link inside the run (the run folder itself may be one)."""
        if path.is_symlink():
            raise OSError(f"{path} is a symbolic link; refusing to write through it (replace it with a folder/file)")

    def replace(self, table: str, df: pl.DataFrame, chunk: int = 5000) -> int:
        """Make `df` the whole table, atomically for readers (store.ops.replace_table)."""
        from sfdata.store.ops import replace_table

        return replace_table(self, table, df, chunk)

    def drop_rows(self, table: str, **equal: Any) -> int:
        """Delete the rows whose columns equal `equal` (store.ops.drop_rows); returns the count."""
        from sfdata.store.ops import drop_rows

        return drop_rows(self, table, **equal)

    def set_label(self, trace_id: str, label: str | None, note: str | None = None) -> pl.DataFrame:
        """Set keep/drop (None clears) and/or a note for one trace in RUN/labels.parquet (store.ops.set_label)."""
        from sfdata.store.ops import set_label

        return set_label(self.table_path("labels"), trace_id, label, note)

    # ---- manifest -----------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            return {"name": self.name, "stages": {}, "config": {}}
        try:
            m = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{self.manifest_path} is not valid JSON: {e}") from e
        except UnicodeDecodeError as e:
            raise ValueError(f"{self.manifest_path} is not UTF-8 text: {e}") from e
        if not isinstance(m, dict):
            raise ValueError(f"{self.manifest_path} must hold a JSON object, found {type(m).__name__} ({str(m)[:40]})")
        if not isinstance(m.get("stages", {}), dict):
            raise ValueError(f"{self.manifest_path}: 'stages' must be a JSON object")
        return m

    def _write_manifest(self, m: dict[str, Any]) -> None:
        from sfdata.redact import redact

        write_json_atomic(redact(m), self.manifest_path)

    def init(self, config: dict[str, Any] | None = None) -> RunDir:
        """Create the folder and a manifest (keeps an existing manifest's stage history); secrets are redacted."""
        self.path.mkdir(parents=True, exist_ok=True)
        with file_lock(self.manifest_path):
            m = self.manifest()
            m.setdefault("created_at", now_utc().isoformat())
            m["name"] = self.name
            if config is not None:
                m["config"] = config
            m["versions"] = package_versions()
            self._write_manifest(m)
        return self

    def set_stage(self, stage: str, status: str, **info: Any) -> None:
        """Record a stage's status ("running" | "done" | "failed") with free-form info (rows, seeds...).

        Read-modify-write under a file lock, so concurrent callers never drop each other's updates.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with file_lock(self.manifest_path):
            m = self.manifest()
            entry = dict(m.get("stages", {}).get(stage, {}))
            if status != "failed":
                entry.pop("error", None)  # a stage that failed, then ran again, must not keep the old error
            entry.update(info)
            entry["status"] = status
            entry["updated_at"] = now_utc().isoformat()
            m.setdefault("stages", {})[stage] = entry
            self._write_manifest(m)

    def stage_status(self, stage: str) -> str | None:
        return self.manifest().get("stages", {}).get(stage, {}).get("status")
