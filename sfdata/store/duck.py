"""DuckDB views over a run's Parquet files: `questions, rollouts, grades, reflections, traces,
labels, skills, eval`, plus `graded` (rollouts joined with grades).

Read-only by construction: the files are opened by pyarrow (a dataset over the exact list of files,
literal paths, no globbing) and registered on a DuckDB connection created with external access off and
its configuration locked. No file path is reachable from SQL on it: COPY TO, ATTACH, EXPORT, read_csv,
glob(), INSTALL/LOAD and profiling output all fail, whatever statement wraps them.

Tables with no file yet are empty views with the canonical schema, so every query in
`queries/` runs on any run.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from sfdata.store.parquet import OnCorrupt, readable_files
from sfdata.store.run import RunDir
from sfdata.store.schemas import LATER_COLUMNS, TABLES, duck_schema

if TYPE_CHECKING:
    import polars as pl

# no file, network, extension or Python-variable access from SQL, and no SET that could turn any back on
LOCKED_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "python_enable_replacements": False,
    "lock_configuration": True,  # set after `_LOCAL` (a locked configuration takes no SET)
}
_LOCAL = "SET enable_progress_bar = false"  # printed on stdout after 2 s: never part of a query's output


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_ARROW_SCHEMAS: dict[tuple, Any] = {}  # file identity -> pyarrow schema (footer read once per file version)
_ARROW_LOCK = threading.RLock()


def _arrow_schema(path: Path):
    """A Parquet file's pyarrow schema from its footer, cached per (path, inode, size, mtime); literal path."""
    import pyarrow.parquet as pq
    from pyarrow import fs

    from sfdata.store.parquet import file_identity

    key = file_identity(path)
    with _ARROW_LOCK:
        got = _ARROW_SCHEMAS.get(key)
    if got is None:
        got = pq.read_schema(str(path), filesystem=fs.LocalFileSystem())
        with _ARROW_LOCK:
            if len(_ARROW_SCHEMAS) > 100_000:
                _ARROW_SCHEMAS.clear()
            _ARROW_SCHEMAS[key] = got
    return got


def duck_columns(path: Path) -> list[str]:
    """Top-level column names of a Parquet file, read from its footer (no Polars import; the path is literal)."""
    return list(_arrow_schema(Path(path)).names)


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


def _casts(table: str, files: list[Path]) -> str:
    absent = _later_columns_absent(table, files)  # older parts may predate a column: read its default
    return ", ".join(f'CAST({_column_sql(table, c, absent)} AS {t}) AS "{c}"' for c, t in duck_schema(table).items())


def _empty_view(table: str, view: str, positions: bool) -> str:
    nulls = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in duck_schema(table).items())
    if positions:
        nulls += ", CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS BIGINT) AS _pos"
    return f"CREATE OR REPLACE VIEW {view} AS SELECT {nulls} WHERE false"


def table_view_sql(table: str, files: list[Path], name: str | None = None, positions: bool = False) -> str:
    """`CREATE VIEW` over `read_parquet` for a connection that may read files (not a read-only one).

    DuckDB expands glob characters (`*?[`) in these paths: code that reads a run uses `register_view`,
    which reads the exact files through pyarrow and works on the locked-down connections."""
    view = _ident(name or table)
    if not files:
        return _empty_view(table, view, positions)
    cols = _casts(table, files)
    lst = "[" + ", ".join(_sql_str(str(p)) for p in files) + "]"
    if positions:
        cols += ", filename AS _file, file_row_number AS _pos"
    extra = ", filename = true, file_row_number = true" if positions else ""
    return f"CREATE OR REPLACE VIEW {view} AS SELECT {cols} FROM read_parquet({lst}, union_by_name = true{extra})"


class _NoPandasNow:
    """Import hook: `import pandas` fails on the thread loading pyarrow.dataset, nowhere else.

    pyarrow._dataset builds `pa.scalar(True)` at import, and pyarrow's lazy pandas shim imports pandas to
    check it (about half of a one-shot `sf query`). Refused, the shim takes pyarrow's documented
    "pandas not installed" path; `_PandasLater` hands pandas back to pyarrow when anything imports it."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" and threading.get_ident() == self.thread:
            raise ModuleNotFoundError("pandas is not imported while pyarrow.dataset loads", name=name)
        return None


class _PandasLater:
    """Import hook, one shot: after a later `import pandas` completes, pyarrow's shim imports it again
    (its `compat` property retries), so `pa.array(series)` and `to_pandas` work as if it never failed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None):
        if name != "pandas":
            return None
        import importlib.util
        import sys

        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, run = spec.loader, spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            sys.modules.setdefault(name, module)
            try:
                import pyarrow.lib

                pyarrow.lib._pandas_api.compat  # noqa: B018 - the shim's retry: `have_pandas` is True again
            except Exception:  # noqa: BLE001 - an old or new pyarrow without the shim: nothing to hand back
                pass

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _pyarrow_dataset():
    """`pyarrow.dataset`, loaded without importing pandas when nothing has yet (see `_NoPandasNow`)."""
    import sys

    mod = sys.modules.get("pyarrow.dataset")
    if mod is not None or "pandas" in sys.modules:
        import pyarrow.dataset as ds

        return ds
    block = _NoPandasNow()
    sys.meta_path.insert(0, block)
    try:
        import pyarrow.dataset as ds
    finally:
        sys.meta_path.remove(block)
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _PandasLater())
    return ds


def arrow_dataset(files: list[Path]):
    """A pyarrow dataset over exactly `files` (literal paths, never globbed), columns unified by name."""
    import pyarrow as pa
    from pyarrow import fs

    ds = _pyarrow_dataset()

    schema = pa.unify_schemas([_arrow_schema(p) for p in files], promote_options="permissive")
    return ds.dataset([str(p) for p in files], schema=schema, format="parquet", filesystem=fs.LocalFileSystem())


_VIEWS: dict[int, dict[str, tuple]] = {}  # id(connection) -> view name -> (table, files, positions, identities)


def _identities(files: list[Path]) -> tuple:
    from sfdata.store.parquet import file_identity

    out: list[tuple] = []
    for p in files:
        try:
            out.append(file_identity(p))
        except OSError:
            out.append((str(p),))
    return tuple(out)


def refresh_views(con: duckdb.DuckDBPyConnection, register: Callable[[str, Any], Any] | None = None) -> None:
    """Re-register the views of a long-lived connection (the inspector's) whose files were replaced since.

    pyarrow keeps a file's footer once read; a single-file table rewritten in place (temp + rename: a new
    identity) is read through a fresh dataset, as DuckDB's own path-based views did."""
    for name, (table, files, positions, ids) in list(_VIEWS.get(id(con), {}).items()):
        if files and _identities(files) != ids:
            register_view(con, table, files, name=name, positions=positions, register=register)


def register_view(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[Path],
    name: str | None = None,
    positions: bool = False,
    register: Callable[[str, Any], Any] | None = None,
) -> None:
    """View `name` (default: the table) over `files`, cast to the table's schema, on any connection.

    The files are read by pyarrow and registered on `con` (`_arrow_<name>`), so the view works on a
    connection that can reach no file. `positions` adds `_file` and `_pos` (file path, row number within
    the file's rows that pass the query's filters): ordering by them is the files' order on every query,
    which a join alone does not keep (paging needs one fixed order). `register` replaces `con.register` for a
    caller that shares the Arrow sources with its cursors (a registration is per cursor; views are shared).
    """
    reg = register or con.register
    name = name or table
    view = _ident(name)
    _VIEWS.setdefault(id(con), {})[name] = (table, list(files), positions, _identities(files))
    while len(_VIEWS) > 64:
        _VIEWS.pop(next(iter(_VIEWS)))
    if not files:
        con.execute(_empty_view(table, view, positions))
        return
    cols = _casts(table, files)
    if not positions:
        src = f"_arrow_{name}"
        reg(src, arrow_dataset(files))
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT {cols} FROM {_ident(src)}")
        return
    parts = []
    for i, p in enumerate(files):
        src = f"_arrow_{name}_{i}"
        reg(src, arrow_dataset([p]))
        parts.append(
            f"SELECT {cols}, {_sql_str(str(p))} AS _file, CAST(row_number() OVER () - 1 AS BIGINT) AS _pos "
            f"FROM {_ident(src)}"
        )
    con.execute(f"CREATE OR REPLACE VIEW {view} AS " + " UNION ALL ".join(parts))


_CLEAN: dict[tuple, int] = {}  # (table, file identities) -> rows beyond the first per id (0: none repeated)
_WARNED: set[tuple] = set()  # (table, file identities) already warned about in this process


def _clean_marker(table: str, files: list[Path]) -> Path | None:
    """A file whose existence says: these files (by content) repeat no id. Kept in `$SF_CACHE/ids/`
    (default `~/.cache/skillfactory/ids/`), so a fresh `sf query` skips the id scan on a checked file set."""
    import hashlib
    import os

    from sfdata.store.identity import content_digest

    try:
        digests = [content_digest(p) for p in files]
    except OSError:
        return None
    key = hashlib.blake2b(repr((table, digests)).encode(), digest_size=16).hexdigest()
    root = Path(os.environ.get("SF_CACHE") or Path.home() / ".cache" / "skillfactory")
    return root / "ids" / key


def _repeated_rows(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> int:
    """Rows of `table` beyond the first per id (nulls count as one id, as `RunDir.read`): one scan of the
    id column per file set, remembered per process (file identity) and on disk (file content)."""
    ident = (table, _identities(files))
    if ident in _CLEAN:
        return _CLEAN[ident]
    marker = _clean_marker(table, files)
    if marker is not None and marker.is_file():
        n = 0
    else:
        col = _ident(TABLES[table][1])
        n = con.sql(
            f"SELECT count(*) - count(DISTINCT {col}) - (count(*) > count({col}))::INT FROM {_ident(table)}"
        ).fetchall()[0][0]
        if n == 0 and marker is not None:
            try:
                from sfdata.store.run import write_text_atomic

                marker.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic("", marker)
            except OSError:  # a read-only home: the scan runs again next time
                pass
    if len(_CLEAN) > 10_000:
        _CLEAN.clear()
    _CLEAN[ident] = n
    return n


def repeated_ids(con: duckdb.DuckDBPyConnection, table: str, every: str, files: list[Path], root: Path) -> tuple:
    """Over `every` (a view of `table` over `files` with `_file`/`_pos`, `register_view(positions=True)`):
    (ids held more than once, rows beyond the first of each, the files holding them in `files` order, named
    relative to `root` when inside it). Shared by `connect(first_per_id=True)` and the inspector."""
    id_col = _ident(TABLES[table][1])
    paths = [str(p) for p in files]
    repeats = f"SELECT {id_col}, count(*) AS k, list(DISTINCT _file) AS fs FROM {_ident(every)} GROUP BY 1 HAVING k > 1"
    n_ids, n, held = con.sql(
        f"SELECT count(*), sum(k - 1), list_distinct(flatten(list(fs))) FROM ({repeats})"
    ).fetchall()[0]
    names = [
        str(Path(f).relative_to(root)) if Path(f).is_relative_to(root) else f
        for f in sorted(held or [], key=paths.index)
    ]
    return n_ids, n or 0, names


def first_per_id_sql(table: str, every: str, files: list[Path]) -> str:
    """SELECT the first row of each id of `every` (a positions view over `files`): files in order, then rows;
    `_file` and `_pos` are kept."""
    id_col = _ident(TABLES[table][1])
    return (
        f"SELECT * EXCLUDE (_f) FROM (SELECT *, list_position({_sql_str_list([str(p) for p in files])}, _file) AS _f "
        f"FROM {_ident(every)}) QUALIFY row_number() OVER (PARTITION BY {id_col} ORDER BY _f, _pos) = 1"
    )


def _keep_first_per_id(con: duckdb.DuckDBPyConnection, run: RunDir, table: str, files: list[Path]) -> None:
    """An id held twice (a copied part, two writers before the run lock): the view keeps the first row
    of each id (files in order, then rows) and warns once, naming the files that hold repeats."""
    import warnings

    if not files or not _repeated_rows(con, table, files):
        return
    every = f"_all_{table}"
    register_view(con, table, files, name=every, positions=True)
    _, n, names = repeated_ids(con, table, every, files, run.path)
    con.execute(
        f"CREATE OR REPLACE VIEW {_ident(table)} AS SELECT * EXCLUDE (_file, _pos) FROM "
        f"({first_per_id_sql(table, every, files)})"
    )
    if (table, _identities(files)) in _WARNED:
        return  # once per process and file set (`sf report` opens several connections)
    _WARNED.add((table, _identities(files)))
    warnings.warn(
        f"{run.path}: {n:,} duplicate row(s) of {table} (same {TABLES[table][1]}) in {', '.join(names)}: "
        "the first row of each id is used",
        stacklevel=4,
    )


def _sql_str_list(items: list[str]) -> str:
    return "[" + ", ".join(_sql_str(x) for x in items) + "]"


def _typed_files(
    files: list[Path], table: str, on_corrupt: OnCorrupt, skipped: list[tuple[str, Path, str]] | None = None
) -> list[Path]:
    """The files whose columns have the table's types: a part with, say, numbers stored as text cannot be
    scanned beside the others, so it is refused (or skipped with a one-line warning naming the column,
    and `(table, path, why)` appended to `skipped`)."""
    from sfdata.store.parquet import CorruptFileError, wrong_column_types

    good = []
    for p in files:
        why = wrong_column_types(p, table)
        if why is None:
            good.append(p)
        elif on_corrupt == "raise":
            raise CorruptFileError(p, why)
        else:
            warnings.warn(f"skipping {CorruptFileError(p, why)}", stacklevel=3)
            if skipped is not None:
                skipped.append((table, p, why))
    return good


def view_files(con: duckdb.DuckDBPyConnection, name: str) -> list[Path]:
    """The files view `name` of `con` reads (as `connect`/`register_view` last registered it)."""
    return list(_VIEWS.get(id(con), {}).get(name, (None, []))[1])


def connect(
    run: RunDir | str | Path,
    on_corrupt: OnCorrupt = "raise",
    database: str = ":memory:",
    write: bool = False,
    extra_paths: Iterable[str | Path] = (),
    tables: Iterable[str] | None = None,
    on_register: Callable[[str, Any], Any] | None = None,
    first_per_id: bool = False,
    wrong_types: list[tuple[str, Path, str]] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table of `run`.

    Read-only by construction by default (`sf sql`, named queries, report, inspector): the views read
    pyarrow datasets registered on a connection created with `LOCKED_CONFIG` (external access off, no
    extensions, configuration locked), so no statement can create, change or delete a file.
    `extra_paths` is accepted for older callers and grants nothing: register views over other files
    with `register_view`. `write=True` (`sf sql --write`) is the explicit opt-out.
    `tables`: only these get views over their files (the others are empty typed views): a query
    that names two tables does not open and validate the rest (`tables_in`).
    `on_register(name, arrow)` is told each Arrow source registered on `con` (a registration is per cursor:
    a caller that queries through cursors registers them there too).
    `first_per_id` (user SQL: `sf sql`, `sf query`, `sf report`): a table whose files repeat an id reads
    the first row of each, with one warning naming the files (`_keep_first_per_id`), as `RunDir.read`.
    `wrong_types` (with `on_corrupt="skip"`): told `(table, path, why)` of each part skipped for a column of
    the wrong type, so a caller need not read the footers again (`view_files` says what each view reads).
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    config = {k: v for k, v in LOCKED_CONFIG.items() if k != "lock_configuration"}
    con = duckdb.connect(database, config={} if write else config)
    con.execute(_LOCAL)
    if not write:
        con.execute("SET lock_configuration = true")
    _VIEWS.pop(id(con), None)  # a new connection at a reused address
    wanted = set(TABLES) if tables is None else set(tables)

    def reg(name: str, arrow: Any) -> None:
        con.register(name, arrow)
        if on_register is not None:
            on_register(name, arrow)

    for table in TABLES:
        files = readable_files(run.files(table), table, on_corrupt, duck_columns) if table in wanted else []
        files = _typed_files(files, table, on_corrupt, wrong_types)
        register_view(con, table, files, register=reg)
        if first_per_id:
            _keep_first_per_id(con, run, table, files)
    con.execute(
        """CREATE OR REPLACE VIEW graded AS
        SELECT r.*, g.extracted_answer, g.is_correct, g.reason, g.grader
        FROM rollouts r LEFT JOIN grades g USING (rollout_id)"""
    )
    return con


_SHARED: OrderedDict[tuple, tuple[tuple, duckdb.DuckDBPyConnection, threading.RLock, str]] = OrderedDict()
_SHARED_LOCK = threading.RLock()
_SHARED_MAX = 4  # runs x table sets kept open per process

_STATE_SQL = """SELECT
  (SELECT string_agg(database_name || ':' || coalesce(path, ''), ',' ORDER BY 1) FROM duckdb_databases()),
  (SELECT string_agg(schema_name, ',' ORDER BY 1) FROM duckdb_schemas() WHERE NOT internal),
  (SELECT string_agg(view_name || '=' || sql, ',' ORDER BY 1) FROM duckdb_views() WHERE NOT internal),
  (SELECT string_agg(table_name, ',' ORDER BY 1) FROM duckdb_tables()),
  (SELECT string_agg(sequence_name, ',' ORDER BY 1) FROM duckdb_sequences()),
  (SELECT count(*) FROM duckdb_functions() WHERE NOT internal),
  (SELECT count(*) FROM duckdb_types() WHERE NOT internal),
  current_schema()"""


def _state(con: duckdb.DuckDBPyConnection) -> str:
    """What a statement could change in a database that later queries would see: catalog and search path."""
    return repr(con.execute(_STATE_SQL).fetchall())


def _files_signature(run: RunDir, tables: frozenset[str]) -> tuple:
    from sfdata.store.identity import file_identity

    return tuple(file_identity(p) for table in sorted(tables) for p in run.files(table))


class SharedConnection:
    """One query's lease on a cached read-only database: `.sql`/`.execute` as on a connection, then `.close()`.

    Queries on one database run one at a time (registered datasets live on the connection, not its
    cursors). Closing checks the catalog: a statement that changed it (a view redefined, a table
    created) drops the database from the cache, so no statement changes a later query's answer.
    """

    def __init__(self, key: tuple | None, con: duckdb.DuckDBPyConnection, lock: threading.RLock, state: str):
        self._key, self._con, self._lock, self._state = key, con, lock, state
        self._lock.acquire()
        self._open = True

    def sql(self, query: str, params: Any = None):
        return self._con.sql(query, params=params)

    def execute(self, query: str, params: Any = None):
        return self._con.execute(query, params)

    def extract_statements(self, query: str):
        return self._con.extract_statements(query)

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            changed = _state(self._con) != self._state
        except duckdb.Error:
            changed = True
        finally:
            self._lock.release()
        if changed:
            key = self._key
            with _SHARED_LOCK:
                hit = _SHARED.get(key) if key is not None else None
                if key is not None and hit is not None and hit[1] is self._con:
                    del _SHARED[key]
            self._con.close()

    def __enter__(self) -> SharedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_connection(run: RunDir | str | Path, tables: Iterable[str] | None = None) -> SharedConnection:
    """A read-only connection for one query, on a database kept per (run, tables, their files' identities).

    Opening a DuckDB database and its views costs as much as a small query: a warm process (notebook,
    `sf serve`, report) asking many queries of one run reuses the locked-down database while its files are
    the same (path, inode, size, mtime; writes are temp + rename, so any change is a new identity) and
    rebuilds it, revalidating, otherwise. The caller closes the returned lease as it would a connection.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    wanted = frozenset(TABLES if tables is None else tables)
    key = (str(run.path.resolve()), wanted)
    try:
        sig = _files_signature(run, wanted)
    except FileNotFoundError:  # a file went away while listing: no caching this time
        con = connect(run, tables=wanted, first_per_id=True)
        return SharedConnection(None, con, threading.RLock(), _state(con))
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is not None and hit[0] == sig:
            _SHARED.move_to_end(key)
            return SharedConnection(key, hit[1], hit[2], hit[3])
    con = connect(run, tables=wanted, first_per_id=True)
    entry = (sig, con, threading.RLock(), _state(con))
    with _SHARED_LOCK:
        _SHARED[key] = entry
        _SHARED.move_to_end(key)
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.popitem(last=False)  # dropped, not closed: a lease in use elsewhere keeps it alive
    return SharedConnection(key, con, entry[2], entry[3])


def tables_in(sql: str) -> set[str]:
    """Run tables a statement may read: every table name appearing as a word (`graded` = rollouts + grades).

    Over-inclusive on purpose (a name inside a string literal counts too): a missed table would read
    as empty, an extra one only costs its open. `query_table(...)` and `query(...)` take a table name or a
    statement as a string built at run time: a statement using them gets every table."""
    import re

    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql.lower()))
    if words & {"query", "query_table"}:
        return set(TABLES)
    out = {t for t in TABLES if t in words}
    if "graded" in words:
        out |= {"rollouts", "grades"}
    return out


def lock_down(con: duckdb.DuckDBPyConnection, allowed_paths: list[str] | None = None) -> None:
    """External access off and the settings locked on an existing connection.

    `allowed_paths` is ignored: DuckDB lets a query write to an allowed path (COPY TO), so nothing is
    allowed; views over files use `register_view`. New connections pass `LOCKED_CONFIG` instead."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN", "MULTI")  # MULTI: a PIVOT (its value scan + the SELECT)


def check_read_only(con: Any, sql: str) -> None:
    """Refuse statements other than SELECT/EXPLAIN SELECT with a clear message.

    Not the guarantee (the connection reaches no file whatever the statement): it keeps a cached
    database's catalog as built and names the opt-in."""
    import re

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as e:
        raise ValueError(f"SQL error: {str(e).splitlines()[0]}") from None
    for st in statements:
        kind = str(st.type).rpartition(".")[2]
        if kind == "EXPLAIN":
            inner = re.sub(r"^\s*EXPLAIN\s+(ANALY[SZ]E\s+)?", "", st.query, flags=re.IGNORECASE)
            try:
                kinds = [str(s.type).rpartition(".")[2] for s in con.extract_statements(inner)]
            except duckdb.Error:
                kinds = ["EXPLAIN"]
            kind = "EXPLAIN" if kinds == ["SELECT"] else f"EXPLAIN {'/'.join(kinds)}"
        if kind not in READ_ONLY_STATEMENTS:
            raise ValueError(f"{kind} statements are not allowed here: analysis is read-only (sf sql --write opts in)")


def query(run: RunDir | str | Path, sql: str, params: list | dict | None = None) -> pl.DataFrame:
    """Run SQL over a run's views and return a Polars frame.

    DuckDB 2.0: relations keep no result, so `con.sql(q, params=...).pl()` is the one-shot path
    (`execute(...).pl()` no longer exists). `params` is a list for `?` or a dict for `$name`.
    """
    con = connect(run, first_per_id=True)
    try:
        return con.sql(sql, params=params or None).pl()
    finally:
        con.close()
