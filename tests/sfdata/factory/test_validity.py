"""Issue 21.6: a reflection's validity follows the CURRENT grade (build, verdict_confusion, sf reflect's summary),
and a rebuild after a regrade replaces the traces built from the old grades."""

from __future__ import annotations

import re

import polars as pl

from sfdata import queries
from sfdata.app.stages import run_stage
from sfdata.factory import phrases
from sfdata.factory.build import BuildConfig, build_traces
from sfdata.reflect import verdict_metrics
from tests.synth import make_run


def _flip_some_grades(run, every: int = 3) -> set[str]:
    """Regrade: every `every`-th rollout's grade flips (the stored reflection flags are left as they were)."""
    g = run.read("grades").with_row_index("i")
    flip = pl.col("i") % every == 0
    flipped = set(g.filter(flip)["rollout_id"].to_list())
    run.write("grades", g.with_columns(pl.when(flip).then(~pl.col("is_correct")).otherwise("is_correct")).drop("i"))
    return flipped


def _verdict_and_glue_agree_with_grades(run, traces: pl.DataFrame) -> int:
    grade = dict(run.read("grades").select("rollout_id", "is_correct").iter_rows())
    verdict = dict(run.read("reflections").select("reflection_id", "verdict").iter_rows())
    checked = 0
    for row in traces.iter_rows(named=True):
        blocks = row["trace"].split("<sample>\n")[1:]
        for rid, fid, block in zip(row["rollout_ids"], row["reflection_ids"], blocks):
            if not fid:
                continue
            checked += 1
            assert (verdict[fid] == "Correct") == grade[rid], (row["trace_id"], rid)
            glue = block.split("</reflect>\n", 1)[1] if "</reflect>\n" in block else ""
            pool = phrases.DOUBLE_CHECK if grade[rid] else phrases.RETRY
            other = phrases.RETRY if grade[rid] else phrases.DOUBLE_CHECK
            assert not any(p in glue for p in other), (row["trace_id"], glue)
            allowed = [*pool, *phrases.BACKTRACK, *phrases.CONFIRM]  # the last sample: no glue, or *C*IC/*CC's tail
            assert not glue.strip() or "</think>" in glue or any(p in glue for p in allowed), glue
    return checked


def test_build_reads_validity_from_the_current_grade(tmp_path):
    run = make_run(tmp_path / "r", n_questions=10, n=3, k=2, p_correct=0.5, p_right_verdict=0.6, seed=3)
    flipped = _flip_some_grades(run)
    stored = run.read("reflections")
    stale = stored.filter(pl.col("rollout_id").is_in(list(flipped)) & pl.col("is_valid"))
    assert stale.height > 0  # flags stored at reflect time that the regrade made wrong
    df, _ = build_traces(run, BuildConfig(formats=("*C", "*C_full", "*C*IC", "*CC"), n=3))
    used = {f for ids in df["reflection_ids"].to_list() for f in ids if f}
    assert used and not used & set(stale["reflection_id"].to_list())
    assert _verdict_and_glue_agree_with_grades(run, df) > 0


def test_verdict_confusion_and_reflect_summary_count_against_the_current_grades(tmp_path):
    run = make_run(tmp_path / "r", n_questions=6, n=2, k=2, p_correct=0.5, p_right_verdict=0.7, seed=4)
    _flip_some_grades(run, every=2)
    grade = dict(run.read("grades").select("rollout_id", "is_correct").iter_rows())
    r = run.read("reflections")
    says = r["verdict"] == "Correct"
    truth = pl.Series([grade[x] for x in r["rollout_id"]])
    tp, fp = int((says & truth).sum()), int((says & ~truth).sum())
    fn, tn = int((~says & truth).sum()), int((~says & ~truth).sum())
    q = queries.run_query(run, "verdict_confusion").row(0, named=True)
    assert (q["tp"], q["fp"], q["fn"], q["tn"]) == (tp, fp, fn, tn)
    m = verdict_metrics(run)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (tp, fp, fn, tn)
    assert m["valid"] == tp + tn


def test_a_rebuild_after_a_regrade_replaces_the_stale_traces(tmp_path):
    run = make_run(tmp_path / "r", n_questions=10, n=3, k=2, p_correct=0.5, p_right_verdict=0.6, seed=5)
    cfg = BuildConfig(formats=("*C", "*C*IC"), n=3)
    run_stage(run, "build", cfg)
    before = set(run.read("traces")["trace_id"].to_list())
    _flip_some_grades(run)
    info = run_stage(run, "build", cfg)  # same config, changed grades: runs again and replaces
    assert "traces" in info, info
    now = run.read("traces")
    fresh, _ = build_traces(run, cfg)
    assert set(now["trace_id"].to_list()) == set(fresh["trace_id"].to_list()) != before
    assert now.height == fresh.height  # nothing stale left beside them
    assert _verdict_and_glue_agree_with_grades(run, now) > 0
    assert not re.search(r"\.traces", " ".join(p.name for p in run.path.iterdir()))


def test_without_a_grade_row_the_stored_grade_stands_in_query_and_summary(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1, seed=6)
    r = run.read("reflections")
    says, truth = r["verdict"] == "Correct", r["rollout_is_correct"]
    run.write("grades", run.read("grades").head(0))  # no grade rows at all
    q = queries.run_query(run, "verdict_confusion").row(0, named=True)
    m = verdict_metrics(run)
    want = (
        int((says & truth).sum()),
        int((says & ~truth).sum()),
        int((~says & truth).sum()),
        int((~says & ~truth).sum()),
    )
    assert (q["tp"], q["fp"], q["fn"], q["tn"]) == want == (m["tp"], m["fp"], m["fn"], m["tn"])


def test_sf_build_after_a_regrade_replaces_too(tmp_path):
    from sfdata.app.cli.main import main

    run = make_run(tmp_path / "r", n_questions=8, n=3, k=2, p_correct=0.5, p_right_verdict=0.6, seed=8)
    assert main(["build", str(run.path), "--formats", "*C", "--n", "3"]) == 0
    _flip_some_grades(run)
    assert main(["build", str(run.path), "--formats", "*C", "--n", "3"]) == 0  # no --replace
    fresh, _ = build_traces(run, BuildConfig(formats=("*C",), n=3))
    now = run.read("traces")
    assert now.height == fresh.height and set(now["trace_id"].to_list()) == set(fresh["trace_id"].to_list())
