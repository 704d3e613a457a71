"""Named SQL queries from `sfdata/named_queries/*.sql` (top-level `queries/` links there), run
through DuckDB over a run's views. The files ship inside the package, so an installed wheel has them.

Each file holds one query; its first comment line is `-- name: what it answers`. Parameters
are DuckDB prepared parameters (`$name`), bound from `--param k=v`, never spliced into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `sf query` prints DuckDB rows directly: Polars (and pyarrow) load only for frames
    import polars as pl

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def queries_dir() -> Path:
    """The package's queries: the only place a query *name* is looked up (a file runs only when named as one)."""
    return Path(__file__).resolve().parent / "named_queries"


_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    params: tuple[str, ...]


def load(path: Path) -> NamedQuery:
    sql = path.read_text(encoding="utf-8")
    first = next((ln for ln in sql.splitlines() if ln.startswith("--")), f"-- {path.stem}:")
    desc = first[2:].strip()
    if ":" in desc:
        desc = desc.split(":", 1)[1].strip()
    code = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    params = tuple(dict.fromkeys(_PARAM.findall(code)))
    return NamedQuery(path.stem, desc, sql, params)


def available() -> list[NamedQuery]:
    return [load(p) for p in sorted(queries_dir().glob("*.sql"))]


def get(name: str) -> NamedQuery:
    """The package query `name` (letters, digits, `_`): never a path (`../x` is refused, not resolved)."""
    if not _NAME.fullmatch(name):
        raise KeyError(f"{name!r} is not a query name (letters, digits, _); run a SQL file with --file PATH")
    path = queries_dir() / f"{name}.sql"
    if not path.is_file():
        names = ", ".join(q.name for q in available())
        raise KeyError(f"no query named {name!r}; available: {names}")
    return load(path)


def parse_value(v: str):
    if v.lower() in ("null", "none", ""):
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    return v


def _bound(q: NamedQuery, params: dict[str, object] | None) -> dict[str, object]:
    params = dict(params or {})
    unknown = sorted(set(params) - set(q.params))
    if unknown:
        raise ValueError(f"query {q.name} takes parameters {list(q.params) or 'none'}; got {unknown}")
    return {p: params.get(p) for p in q.params}


def run_query(run, name: str | NamedQuery, params: dict[str, object] | None = None) -> pl.DataFrame:
    """A package query by name, or a `NamedQuery` loaded from a file the user named (`load(path)`)."""
    return _named(run, name, params, _frame)


def query_rows(
    run, name: str | NamedQuery, params: dict[str, object] | None = None
) -> tuple[list[str], list[str], list[tuple]]:
    """The query's (column names, DuckDB type names, rows) without a Polars frame.

    `sf query`'s table output needs only these; skipping `.pl()` skips importing pyarrow (~0.12 s of a
    ~0.5 s command)."""
    return _named(run, name, params, _rows)


def _named(run, name: str, params: dict[str, object] | None, take):
    from sfdata.store.duck import check_read_only, read_connection, tables_in

    q = name if isinstance(name, NamedQuery) else get(name)
    bound = _bound(q, params)
    con = read_connection(run, tables=tables_in(q.sql))  # only the tables it names are opened
    try:
        check_read_only(con, q.sql)
        return take(con.sql(q.sql.strip().rstrip(";"), params=bound or None))
    finally:
        con.close()


def run_sql(run, sql: str, write: bool = False) -> pl.DataFrame:
    """Ad-hoc SQL over a run's views: read-only unless `write` (then any statement, files and network too)."""
    return _sql(run, sql, write, _frame)


def sql_rows(run, sql: str, write: bool = False) -> tuple[list[str], list[str], list[tuple]]:
    """`run_sql`'s (column names, DuckDB type names, rows), without a Polars frame (as `query_rows`)."""
    return _sql(run, sql, write, _rows)


def _frame(rel) -> pl.DataFrame:
    if rel is None:  # a statement with no result (`sf sql --write "CREATE ..."`)
        import polars as pl

        return pl.DataFrame()
    return rel.pl()


def _rows(rel) -> tuple[list[str], list[str], list[tuple]]:
    return ([], [], []) if rel is None else (list(rel.columns), [str(t) for t in rel.types], rel.fetchall())


def _sql(run, sql: str, write: bool, take):
    from sfdata.store.duck import check_read_only, connect, read_connection

    con = connect(run, write=True) if write else read_connection(run)
    try:
        if not write:
            check_read_only(con, sql)
        return take(con.sql(sql))
    finally:
        con.close()
