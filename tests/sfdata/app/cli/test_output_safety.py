"""User data printed by the CLI is text, never rich markup; analysis SQL is read-only unless --write."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfdata.app.cli.main import main
from sfdata.synth import make_run

HOSTILE = ["[/]", "[bold red]styled[/bold red]", "[link=http://x]y[/link]", "[/bold]"]


def test_sql_table_prints_markup_like_answers_verbatim(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=1)
    sql = "SELECT * FROM (VALUES " + ", ".join(f"('{h}')" for h in HOSTILE) + ') v("[red]col")'
    assert main(["sql", sql, "--run", str(run.path)]) == 0
    out = capsys.readouterr().out
    for h in HOSTILE + ["[red]col"]:
        assert h in out
    assert "\x1b[" not in out


def test_run_path_with_markup_prints_as_text(tmp_path, capsys):
    run = tmp_path / "a[/]b[bold red]c"
    assert main(["questions", str(run), "--n", "2"]) == 0
    assert str(run) in capsys.readouterr().out.replace("\n", "")


def test_esc_and_cell_keep_text():
    from rich.console import Console

    from sfdata.app.cli._common import cell, esc

    con = Console(record=True, width=200)
    for h in HOSTILE:
        con.print(f"[green]x[/] {esc(h)}")
        con.print(cell(h))
    text = con.export_text()
    assert all(text.count(h) == 2 for h in HOSTILE)


@pytest.mark.parametrize(
    "sql",
    [
        "COPY rollouts TO '{out}'",
        "ATTACH '{out}' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "CREATE TABLE t AS SELECT 1",
        "SELECT 1; COPY rollouts TO '{out}'",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_sf_sql_is_read_only_by_default(tmp_path, capsys, sql):
    run = make_run(tmp_path / "r", n_questions=1)
    out = tmp_path / "leak.csv"
    assert main(["sql", sql.format(out=out), "--run", str(run.path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err
    assert not out.exists()
    assert "root:" not in err


def test_sf_sql_write_opts_in(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=1)
    out = tmp_path / "copy.csv"
    assert main(["sql", f"COPY (SELECT rollout_id FROM rollouts) TO '{out}'", "--run", str(run.path), "--write"]) == 0
    assert out.read_text().startswith("rollout_id")


def test_named_queries_still_run_read_only(tmp_path, capsys):
    from sfdata import queries

    run = make_run(tmp_path / "r", n_questions=2)
    for q in queries.available():
        if not q.params:
            queries.run_query(run, q.name)
    assert Path(run.path).is_dir()


def test_a_narrow_result_keeps_its_row_count_on_one_line(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=1)
    assert main(["sql", "select 1 as x", "--run", str(run.path)]) == 0
    assert "1 row(s)" in capsys.readouterr().out
