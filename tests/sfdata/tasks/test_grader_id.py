"""The grader id travels with every grade, and `sf run` grades again what an older grader graded."""

from __future__ import annotations

import polars as pl

from sfdata.app.stages import get_stage, run_stage
from sfdata.factory.build import BuildConfig
from sfdata.grade import graded_by_older_grader
from sfdata.stage_runtime import _fingerprint
from sfdata.store.schemas import LATER_COLUMNS, types_of
from sfdata.tasks import get_task
from tests.synth import make_run


def test_grades_and_eval_rows_carry_the_grader_id(tmp_path):
    run = make_run(tmp_path / "r", n_questions=2, n=1, k=1)
    assert set(run.read("grades")["grader"].unique()) == {get_task("countdown").grader_version}
    assert "grader" in types_of("eval") and LATER_COLUMNS["eval"]["grader"] == ""


def test_a_grader_bump_regrades_and_the_build_after_it_replaces_its_traces(tmp_path):
    run = make_run(tmp_path / "r", n_questions=4, n=2, k=1)
    run_stage(run, "grade")
    assert run_stage(run, "grade") == {"skipped": True}  # same grader, same inputs
    cfg = BuildConfig(formats=("*C",))
    run_stage(run, "build", cfg)
    build_inputs = _fingerprint(run, get_stage("build").reads)
    # rows graded by the grader before the unary-minus bump (countdown/2)
    old = run.read("grades").with_columns(pl.lit("countdown/2").alias("grader"))
    run.write("grades", old)
    assert graded_by_older_grader(run)
    assert _fingerprint(run, get_stage("build").reads) != build_inputs  # the build sees the changed grades
    info = run_stage(run, "grade")
    assert "graded" in info, info  # ran again although config and inputs are unchanged
    assert set(run.read("grades")["grader"].unique()) == {"countdown/3"}
    assert not graded_by_older_grader(run)
    assert run_stage(run, "grade") == {"skipped": True}
    # fingerprints are content-stable: the regrade wrote exactly the grades the traces were built from
    assert _fingerprint(run, get_stage("build").reads) == build_inputs
