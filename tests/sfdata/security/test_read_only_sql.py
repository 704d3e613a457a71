"""User SQL (`sf sql`, `sf query`, named-query files, report, inspector) cannot create, change or delete a file:
the views read pyarrow datasets on a DuckDB connection with external access off and its configuration locked."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from sfdata.app.cli.main import main
from sfdata.queries import run_sql
from sfdata.store import RunDir
from sfdata.store.duck import check_read_only, connect, read_connection
from tests.synth import make_run


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


ATTACKS = [
    "COPY (SELECT * FROM rollouts) TO '{x}'",
    "COPY rollouts TO '{labels}' (FORMAT parquet)",
    "EXPLAIN ANALYZE COPY (SELECT * FROM grades WHERE false) TO '{labels}' (FORMAT parquet)",
    "EXPLAIN ANALYZE COPY (SELECT * FROM rollouts) TO '{part}' (FORMAT parquet)",
    "WITH a AS (SELECT 1) SELECT * FROM a; COPY rollouts TO '{x}'",
    "ATTACH '{x}' AS db",
    "EXPORT DATABASE '{dir}'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling = 'json'",
    "SET profiling_output = '{x}'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('{part}')",
    "SELECT * FROM glob('{dir}/*')",
    "CALL pragma_version(); COPY rollouts TO '{x}'",
    "CREATE TABLE t AS SELECT 1 AS a",
    "EXPLAIN ANALYZE CREATE OR REPLACE VIEW rollouts AS SELECT * FROM rollouts WHERE false",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_no_statement_touches_a_file(tmp_path, attack):
    run = make_run(tmp_path / "run", n_questions=2)
    run.write("labels", run.read("labels")) if run.has("labels") else None
    before = _snapshot(tmp_path)
    sql = attack.format(
        x=tmp_path / "x.csv",
        labels=run.table_path("labels"),
        part=run.files("rollouts")[0],
        dir=tmp_path / "exp",
    )
    rollouts = run.read("rollouts").height
    assert main(["sql", sql, "--run", str(run.path)]) == 1
    # the lower layer too, with the statement filter bypassed: the connection itself reaches no file
    con = connect(run)
    try:
        with pytest.raises(duckdb.Error):
            for st in con.extract_statements(sql):
                con.execute(st).fetchall()
            raise duckdb.Error("ran without touching a file")  # statements that cannot reach a path at all
    finally:
        con.close()
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "exp").exists()
    assert run_sql(run, "SELECT count(*) AS n FROM rollouts")["n"][0] == rollouts


def test_a_bad_statement_never_changes_a_later_answer(tmp_path):
    run = make_run(tmp_path / "run", n_questions=2)
    want = run_sql(run, "SELECT count(*) AS n FROM rollouts")["n"][0]
    con = read_connection(run)
    con.execute("CREATE OR REPLACE VIEW rollouts AS SELECT * FROM rollouts WHERE false")  # past the filter
    con.close()
    assert run_sql(run, "SELECT count(*) AS n FROM rollouts")["n"][0] == want
    con = read_connection(run)
    con.execute("CREATE TABLE leftover AS SELECT 1 AS a")
    con.close()
    with pytest.raises(duckdb.Error):
        run_sql(run, "SELECT * FROM leftover")


def test_explain_only_of_a_select(tmp_path):
    run = make_run(tmp_path / "run", n_questions=1)
    con = connect(run)
    try:
        check_read_only(con, "EXPLAIN SELECT * FROM rollouts")
        check_read_only(con, "EXPLAIN ANALYZE SELECT count(*) FROM rollouts")
        with pytest.raises(ValueError, match="not allowed"):
            check_read_only(con, "EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1")
    finally:
        con.close()


def test_query_names_are_not_paths(tmp_path, capsys):
    run = make_run(tmp_path / "run", n_questions=1)
    evil = tmp_path / "x.sql"
    evil.write_text("-- x: y\nSELECT 42 AS answer\n")
    rel = os.path.relpath(evil.with_suffix(""), Path(__file__).resolve().parents[3] / "sfdata" / "named_queries")
    assert main(["query", rel, "--run", str(run.path)]) == 1
    assert "not a query name" in capsys.readouterr().err
    assert main(["query", "--file", str(evil), "--run", str(run.path)]) == 0  # an explicit file: read-only too
    assert "42" in capsys.readouterr().out
    evil.write_text(f"COPY rollouts TO '{tmp_path / 'y.csv'}'")
    assert main(["query", "--file", str(evil), "--run", str(run.path)]) == 1
    assert not (tmp_path / "y.csv").exists()


@pytest.mark.parametrize("target", ["rollouts/part-x.parquet", "grades.parquet", "labels.parquet", "manifest.json"])
def test_out_refuses_the_runs_tables(tmp_path, target, capsys):
    run = make_run(tmp_path / "run", n_questions=1)
    before = _snapshot(run.path)
    out = run.path / target
    assert main(["sql", "SELECT * FROM grades", "--run", str(run.path), "--format", "parquet", "--out", str(out)]) == 1
    assert "inside the run" in capsys.readouterr().err
    assert _snapshot(run.path) == before
    ok = run.path / "exports" / "g.csv"
    ok.parent.mkdir()
    assert main(["sql", "SELECT * FROM grades", "--run", str(run.path), "--format", "csv", "--out", str(ok)]) == 0


def test_write_stays_the_one_opt_in(tmp_path):
    run = make_run(tmp_path / "run", n_questions=1)
    out = tmp_path / "w.csv"
    assert main(["sql", f"COPY (SELECT 1 AS a) TO '{out}'", "--run", str(run.path), "--write"]) == 0
    assert out.read_text().strip().splitlines() == ["a", "1"]


def test_report_and_inspector_still_read(tmp_path):
    from tui.data import Filters, TraceStore

    run = make_run(tmp_path / "run", n_questions=2)
    from sfdata.factory.build import BuildConfig, build_stage

    build_stage(run, BuildConfig(formats=("0C",), n=1))
    store = TraceStore(run.path, use_index=False)
    assert store.count(Filters()) == RunDir(run.path).read("traces").height
    assert store.page(Filters(), 0, 5).rows
    store.close()
