"""`sf build`'s skip report says why a question with correct samples got no trace."""

from __future__ import annotations

import polars as pl

from sfdata.app.cli.main import main
from sfdata.grade import grade_stage
from sfdata.store import RunDir
from sfdata.synth import make_run


def test_build_reports_correct_samples_excluded_for_trace_tags(tmp_path, capsys):
    src = make_run(tmp_path / "src", n_questions=2, n=2, k=1, p_correct=1.0, p_right_verdict=1.0)
    run = RunDir(tmp_path / "run").init({"synthetic": True})
    run.write("questions", src.read("questions"))
    # every response as an imported reasoning model writes it: a <think> block before the answer
    tagged = src.read("rollouts").with_columns(
        pl.concat_str([pl.lit("<think>\nworking\n</think>\n"), pl.col("response")]).alias("response")
    )
    run.append("rollouts", tagged)
    run.append("reflections", src.read("reflections"))
    grade_stage(run)
    assert run.read("grades")["is_correct"].all()
    capsys.readouterr()
    assert main(["build", str(run.path), "--formats", "*C"]) == 0
    out = capsys.readouterr().out
    assert "*C:no_clean_correct" in out and "*C:no_correct" not in out
    assert "contain trace tags" in out
