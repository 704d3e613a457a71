"""A query opens only the tables it names; file checks are cached per file version, never stale."""

from __future__ import annotations

import os

import polars as pl

from sfdata.queries import run_query
from sfdata.store.duck import connect, tables_in
from sfdata.store.parquet import _SCHEMAS, file_columns
from sfdata.synth import make_run


def test_tables_in_names_what_a_query_reads():
    assert tables_in("SELECT * FROM traces t JOIN skills s ON s.id = t.trace_id") == {"traces", "skills"}
    assert tables_in("select count(*) from GRADED") == {"rollouts", "grades"}
    assert tables_in("SELECT 1") == set()


def test_query_opens_only_its_tables_and_answers_the_same(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1)
    con = connect(run, tables={"grades"})
    try:
        assert con.sql("SELECT count(*) FROM rollouts").fetchall()[0][0] == 0  # not opened: an empty typed view
        assert con.sql("SELECT count(*) FROM grades").fetchall()[0][0] == run.read("grades").height
    finally:
        con.close()
    full = connect(run)
    try:
        want = full.sql("SELECT reason, count(*) AS n FROM graded GROUP BY 1 ORDER BY 1").pl()
    finally:
        full.close()
    got = run_query(run, "grade_reasons")
    assert int(got["n"].sum()) == int(want["n"].sum()) == run.read("grades").height


def test_column_cache_follows_a_replaced_file(tmp_path):
    p = tmp_path / "a.parquet"
    pl.DataFrame({"x": [1]}).write_parquet(p)
    assert file_columns(p) == {"x"}
    tmp = tmp_path / "b.parquet"
    pl.DataFrame({"x": [1], "y": [2]}).write_parquet(tmp)
    os.replace(tmp, p)  # how parts are written: temp + rename (a new inode)
    assert file_columns(p) == {"x", "y"}
    assert any(k[0] == str(p) for k in _SCHEMAS)
