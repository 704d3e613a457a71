"""Table output stays one bounded, terminal-safe page: huge cells are cut, control characters escaped,
and `sf report` survives markup-like format names and pulled SFT-only runs."""

from __future__ import annotations

import json

import polars as pl

from sfdata.app.cli.main import main
from tests.synth import make_run


def test_sql_huge_cell_is_cut_in_the_table_but_whole_in_the_file(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=1)
    sql = "SELECT repeat('x', 20000000) AS big, 1 AS n"
    assert main(["sql", sql, "--run", str(run.path)]) == 0
    out = capsys.readouterr().out
    assert "(20,000,000 chars)" in out
    assert len(out) < 200_000
    dest = tmp_path / "big.csv"
    assert main(["sql", sql, "--run", str(run.path), "--format", "csv", "--out", str(dest)]) == 0
    assert pl.read_csv(dest)["big"][0] == "x" * 20_000_000


def test_escape_sequences_in_data_never_reach_the_terminal(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=1)
    sql = "SELECT chr(27) || ']0;pwned' || chr(7) || chr(27) || '[2J' || chr(155) || 'x' || chr(13) AS \"a\x1b[31m\""
    assert main(["sql", sql, "--run", str(run.path)]) == 0
    out = capsys.readouterr().out
    for bad in ("\x1b", "\x07", "\x9b", "\r"):
        assert bad not in out
    assert "\\x1b]0;pwned\\x07" in out.replace("\n", "").replace("│", "").replace(" ", "")


def test_emit_frame_cuts_and_escapes():
    import contextlib
    import io

    from sfdata.output import emit

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        emit(pl.DataFrame({"t": ["y" * 50_000, "\x1b[31mred"]}), "table", None)
    out = buf.getvalue()
    assert "(50,000 chars)" in out and "\x1b" not in out and "\\x1b[31mred" in out


def _set_formats(run, fmt: str) -> None:
    import shutil

    traces = run.read("traces").with_columns(pl.lit(fmt).alias("format"))
    shutil.rmtree(run.path / "traces")
    run.append("traces", traces)


def test_report_with_markup_like_formats_and_variants(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=2, variants=("[/]", "[bold]x"))
    assert main(["build", str(run.path)]) == 0
    _set_formats(run, "[/]")
    capsys.readouterr()
    assert main(["report", str(run.path)]) == 0
    assert "[/] " in capsys.readouterr().out


def test_report_on_a_run_pulled_from_a_conversations_only_set(tmp_path, capsys):
    rows = [
        {"conversations": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "<answer>4"}]},
        {"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<answer>5</answer>"}]},
    ]
    src = tmp_path / "sft.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["pull", str(src), "--run", str(tmp_path / "p")]) == 0
    assert main(["report", str(tmp_path / "p")]) == 0
    assert "traces" in capsys.readouterr().out
