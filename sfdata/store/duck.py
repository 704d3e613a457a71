"""DuckDB views over a run's Parquet files: `questions, rollouts, grades, reflections, traces,
labels, skills, eval`, plus `graded` (rollouts joined with grades).

Tables with no file yet are empty views with the canonical schema, so every query in
`queries/` runs on any run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from sfdata.store.parquet import OnCorrupt, readable_files
from sfdata.store.run import RunDir
from sfdata.store.schemas import LATER_COLUMNS, TABLES, duck_schema

if TYPE_CHECKING:
    import polars as pl


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_FOOTERS: list[duckdb.DuckDBPyConnection] = []  # one private connection per process for footer reads
_FOOTERS_LOCK = threading.Lock()


def duck_columns(path: Path) -> list[str]:
    """Top-level column names of a Parquet file, read by DuckDB from its footer (no Polars import)."""
    with _FOOTERS_LOCK:
        if not _FOOTERS:
            cfg = {"autoload_known_extensions": False, "autoinstall_known_extensions": False, "threads": 1}
            _FOOTERS.append(duckdb.connect(config=cfg))
        rows = _FOOTERS[0].execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    return [r[0] for r in rows]


def _later_columns_absent(table: str, files: list[Path]) -> set[str]:
    """Columns added after the table's first release (schemas.LATER_COLUMNS) that no file holds."""
    from sfdata.store.parquet import file_columns

    late = set(LATER_COLUMNS.get(table, ()))
    for p in files:
        if not late:
            break
        late -= file_columns(p, duck_columns)
    return late


def _column_sql(table: str, column: str, absent: set[str]) -> str:
    """The column, or for a later column its default where a part lacks it (NULL when the default is None)."""
    later = LATER_COLUMNS.get(table, {})
    if column not in later:
        return _ident(column)
    default = later[column]
    lit = "NULL" if default is None else _sql_str(default) if isinstance(default, str) else str(default)
    if column in absent:
        return lit
    return _ident(column) if default is None else f"coalesce({_ident(column)}, {lit})"


def table_view_sql(table: str, files: list[Path], name: str | None = None, positions: bool = False) -> str:
    """`CREATE VIEW` statement for one table: its files cast to the schema, or an empty typed view.

    `positions` adds `_file` and `_pos` (file name, row within the file): ordering by them is the files'
    order on every query, which a join alone does not keep (paging needs one fixed order)."""
    schema = duck_schema(table)
    absent = _later_columns_absent(table, files)  # older parts may predate a column: read its default
    cols = ", ".join(f'CAST({_column_sql(table, c, absent)} AS {t}) AS "{c}"' for c, t in schema.items())
    view = _ident(name or table)
    if files:
        lst = "[" + ", ".join(_sql_str(str(p)) for p in files) + "]"
        if positions:
            cols += ", filename AS _file, file_row_number AS _pos"
        extra = ", filename = true, file_row_number = true" if positions else ""
        src = f"read_parquet({lst}, union_by_name = true{extra})"
        return f"CREATE OR REPLACE VIEW {view} AS SELECT {cols} FROM {src}"
    nulls = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in schema.items())
    if positions:
        nulls += ", CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS BIGINT) AS _pos"
    return f"CREATE OR REPLACE VIEW {view} AS SELECT {nulls} WHERE false"


def connect(
    run: RunDir | str | Path,
    on_corrupt: OnCorrupt = "raise",
    database: str = ":memory:",
    write: bool = False,
    extra_paths: Iterable[str | Path] = (),
    tables: Iterable[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table of `run`.

    Read-only by default (`sf sql`, named queries, report, inspector): DuckDB may read the run's
    table files and nothing else (`allowed_paths` + `enable_external_access = false`, locked), and
    never installs or autoloads an extension, so no query can write files, attach databases or
    reach the network. `extra_paths` are other files the caller will read (the inspector's single
    file and its labels). `write=True` (`sf sql --write`) is the explicit opt-out.
    `tables`: only these get views over their files (the others are empty typed views): a query
    that names two tables does not open and validate the rest (`tables_in`).
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    config = {} if write else {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
    con = duckdb.connect(database, config=config)
    allowed: list[str] = [str(p) for p in extra_paths]
    wanted = set(TABLES) if tables is None else set(tables)
    for table in TABLES:
        files = readable_files(run.files(table), table, on_corrupt, duck_columns) if table in wanted else []
        allowed += [str(p) for p in files]
        if TABLES[table][2] == "single":
            allowed.append(str(run.table_path(table)))  # re-read after a save (inspector labels)
        con.execute(table_view_sql(table, files))
    con.execute(
        """CREATE OR REPLACE VIEW graded AS
        SELECT r.*, g.extracted_answer, g.is_correct, g.reason, g.grader
        FROM rollouts r LEFT JOIN grades g USING (rollout_id)"""
    )
    if not write:
        lock_down(con, sorted(set(allowed)))
    return con


_SHARED: OrderedDict[tuple, tuple[tuple, duckdb.DuckDBPyConnection]] = OrderedDict()
_SHARED_LOCK = threading.Lock()
_SHARED_MAX = 4  # runs x table sets kept open per process


def _files_signature(run: RunDir, tables: frozenset[str]) -> tuple:
    from sfdata.store.identity import file_identity

    return tuple(file_identity(p) for table in sorted(tables) for p in run.files(table))


def read_connection(run: RunDir | str | Path, tables: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection for one query, on a database kept per (run, tables, their files' identities).

    Opening a DuckDB database costs ~14 ms and its views ~6 ms, as much as a small query: a warm process
    (notebook, `sf serve`, report) asking many queries of one run reuses the locked-down database while its
    files are the same (path, inode, size, mtime; writes are temp + rename, so any change is a new identity)
    and rebuilds it, revalidating, otherwise. The caller closes the returned cursor as it would a connection.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    wanted = frozenset(TABLES if tables is None else tables)
    key = (str(run.path.resolve()), wanted)
    try:
        sig = _files_signature(run, wanted)
    except FileNotFoundError:  # a file went away while listing: no caching this time
        return connect(run, tables=wanted)
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is not None and hit[0] == sig:
            _SHARED.move_to_end(key)
            return hit[1].cursor()
    con = connect(run, tables=wanted)
    with _SHARED_LOCK:
        _SHARED[key] = (sig, con)
        _SHARED.move_to_end(key)
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.popitem(last=False)  # dropped, not closed: a cursor in use elsewhere keeps it alive
    return con.cursor()


def tables_in(sql: str) -> set[str]:
    """Run tables a statement may read: every table name appearing as a word (`graded` = rollouts + grades).

    Over-inclusive on purpose (a name inside a string literal counts too): a missed table would read
    as empty, an extra one only costs its open."""
    import re

    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql.lower()))
    out = {t for t in TABLES if t in words}
    if "graded" in words:
        out |= {"rollouts", "grades"}
    return out


def lock_down(con: duckdb.DuckDBPyConnection, allowed_paths: list[str]) -> None:
    """Only `allowed_paths` stay reachable; external access off; the settings cannot be changed back."""
    con.execute("SET allowed_paths = ?", [allowed_paths])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse statements other than SELECT/EXPLAIN (COPY, ATTACH, INSTALL, SET, CREATE...) by parsing them."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as e:
        raise ValueError(f"SQL error: {str(e).splitlines()[0]}") from None
    for st in statements:
        kind = str(st.type).rpartition(".")[2]
        if kind not in READ_ONLY_STATEMENTS:
            raise ValueError(f"{kind} statements are not allowed here: analysis is read-only (sf sql --write opts in)")


def query(run: RunDir | str | Path, sql: str, params: list | dict | None = None) -> pl.DataFrame:
    """Run SQL over a run's views and return a Polars frame.

    DuckDB 2.0: relations keep no result, so `con.sql(q, params=...).pl()` is the one-shot path
    (`execute(...).pl()` no longer exists). `params` is a list for `?` or a dict for `$name`.
    """
    con = connect(run)
    try:
        return con.sql(sql, params=params or None).pl()
    finally:
        con.close()
