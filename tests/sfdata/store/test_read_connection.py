"""The per-process cached read-only database (`duck.read_connection`): reused while the run's files are the
same, rebuilt (and revalidated) when a part is added, a single file is replaced or a file turns corrupt."""

from __future__ import annotations

import duckdb
import pytest

from sfdata.store import CorruptFileError, RunDir
from sfdata.store.duck import read_connection
from tests.sfdata.store.test_store import _grades, _rollouts


def _count(run: RunDir, table: str) -> int:
    con = read_connection(run, tables={table})
    try:
        return con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()


def test_reused_while_files_are_the_same_and_rebuilt_when_they_change(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.append("rollouts", _rollouts(3))
    run.write("grades", _grades(2))
    a = read_connection(run, tables={"rollouts"})
    b = read_connection(run, tables={"rollouts"})
    a.close()  # closing one cursor leaves the cached database (and other cursors) usable
    assert b.sql("SELECT count(*) FROM rollouts").fetchall() == [(3,)]
    assert _count(run, "rollouts") == 3
    run.append("rollouts", _rollouts(4, start=3))  # a new part
    assert _count(run, "rollouts") == 7
    assert _count(run, "grades") == 2
    run.write("grades", _grades(5))  # a single file replaced (temp + rename: a new inode)
    assert _count(run, "grades") == 5
    b.close()


def test_cached_database_stays_locked_down(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.append("rollouts", _rollouts(2))
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    for _ in range(2):  # the first call builds the database, the second reuses it
        con = read_connection(run)
        with pytest.raises(duckdb.Error):
            con.sql(f"SELECT * FROM read_csv('{outside}')").fetchall()
        with pytest.raises(duckdb.Error):
            con.sql("SET enable_external_access = true")
        con.close()


def test_a_file_turning_corrupt_is_caught_on_the_next_query(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.append("rollouts", _rollouts(2))
    assert _count(run, "rollouts") == 2
    part = run.files("rollouts")[0]
    part.write_bytes(b"not parquet")  # same path, new size/mtime: the cached database is not used
    with pytest.raises(CorruptFileError):
        _count(run, "rollouts")
