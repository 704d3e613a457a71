"""Skill metrics defined once (sfdata/skill_metrics.py): SQL and Polars agree, the named queries hold the
rendered definitions, verdict precision / recall / F1 per class on a known confusion, glue is not a cue."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from sfdata import skill_metrics
from sfdata.factory import phrases
from sfdata.queries import queries_dir
from sfdata.skills import detect
from sfdata.store.schemas import SKILLS, types_of


def _confusion_rows() -> pl.DataFrame:
    """Three outputs; over all of them Correct-class TP 6, FP 2, TN 3, FN 1 (and one row never checked)."""
    counts = [(4, 1, 2, 0), (2, 1, 1, 1), (None, None, None, None)]
    rows = []
    for i, (tp, fp, tn, fn) in enumerate(counts):
        rows.append(
            {
                **dict.fromkeys(SKILLS, 0),
                "id": f"e{i}",
                "source": "eval",
                "n_verdicts": (tp or 0) + (fp or 0) + (tn or 0) + (fn or 0),
                "n_verdict_right": None if tp is None else tp + tn,
                "n_verdict_tp": tp,
                "n_verdict_fp": fp,
                "n_verdict_tn": tn,
                "n_verdict_fn": fn,
                "final_matches_last": None,
                "malformed": False,
                "cue_verify": 1 if i == 0 else 0,
            }
        )
    return pl.DataFrame(rows, schema=SKILLS)


EXPECTED = {
    "verdict_precision_correct": 6 / 8,
    "verdict_recall_correct": 6 / 7,
    "verdict_f1_correct": 12 / 15,
    "verdict_precision_incorrect": 3 / 4,
    "verdict_recall_incorrect": 3 / 5,
    "verdict_f1_incorrect": 6 / 9,
    "verdict_accuracy": 9 / 12,
    "tagged_verdict_rate": 2 / 3,
    "keyword_cue_rate": 1 / 3,
}


def test_verdict_precision_recall_f1_per_class_on_a_known_confusion():
    got = skill_metrics.aggregate(_confusion_rows())
    for name, want in EXPECTED.items():
        assert got[name] == pytest.approx(want), name


def test_sql_rendering_equals_the_polars_aggregation():
    df = _confusion_rows()
    names = list(skill_metrics.METRICS)
    sql = "SELECT " + ", ".join(f"{skill_metrics.get(n).sql('s')} AS {n}" for n in names) + " FROM df s"
    got_sql = duckdb.sql(sql).fetchall()[0]
    got_pl = skill_metrics.aggregate(df, names)
    for n, v in zip(names, got_sql):
        assert v == pytest.approx(got_pl[n]), n
    # no checked verdict at all: null in both forms, never 0 or a division error
    none = df.filter(pl.col("n_verdict_tp").is_null())  # noqa: F841 (read by DuckDB's replacement scan)
    assert duckdb.sql(f"SELECT {skill_metrics.get('verdict_f1_correct').sql('s')} FROM none s").fetchall() == [(None,)]
    assert skill_metrics.aggregate(none, ["verdict_f1_correct"]) == {"verdict_f1_correct": None}


def test_per_row_form_is_one_outputs_verdict_accuracy():
    df = _confusion_rows()  # noqa: F841
    acc = skill_metrics.get("verdict_accuracy").row_sql("s")
    assert duckdb.sql(f"SELECT {acc} FROM df s ORDER BY s.id").fetchall() == [(6 / 7,), (3 / 5,), (None,)]
    with pytest.raises(ValueError, match="not a ratio"):
        skill_metrics.get("retry_rate").row_sql()


@pytest.mark.parametrize("query", sorted(skill_metrics.QUERY_METRICS))
def test_named_queries_hold_the_rendered_definitions(query):
    sql = (queries_dir() / f"{query}.sql").read_text(encoding="utf-8")
    block = skill_metrics.select_sql(skill_metrics.QUERY_METRICS[query])
    indent = "           " if query == "experiment_table" else "       "
    assert block.replace("\n       ", "\n" + indent) in sql, f"{query}.sql: skill columns differ from skill_metrics"


def test_rl_log_and_rl_skill_use_carry_every_step_metric():
    assert set(skill_metrics.STEP_METRICS) <= set(types_of("rl_log"))
    sql = (queries_dir() / "rl_skill_use.sql").read_text(encoding="utf-8")
    assert all(f"round({n}, 3) AS {n}" in sql for n in skill_metrics.STEP_METRICS)


def test_the_projects_glue_phrases_are_not_the_models_cues():
    for pool, items in phrases.ALL.items():
        for p in items:
            c = detect(f"<sample>2 + 2 <answer>4</answer></sample>\n{p}\n")
            assert (c.cue_wait, c.cue_verify, c.cue_alternatively, c.cue_check) == (0, 0, 0, 0), (pool, p)
    # one sentence of a glue phrase is glue too; the model's own words still count
    assert detect("Let me double-check by working through it again.").cue_verify == 0
    own = detect("This seems correct. Let me double-check by working through it again. Wait, let me verify 2 + 2.")
    assert own.cue_verify == 1 and own.cue_wait == 1


def test_a_verdict_is_checked_against_the_sample_it_follows_only():
    from sfdata.tasks import Question, get_task

    q = Question("multiplication", "3 * 4", "12", 1, {"a": 3, "b": 4})
    text = (
        "<reflect><verdict>Correct</verdict></reflect>"  # before any sample: nothing to check
        "<sample><answer>12</answer></sample><reflect><verdict>Correct</verdict></reflect>"  # TP
        "<reflect><verdict>Incorrect</verdict></reflect>"  # a second verdict on the same sample: not checked
        "<sample>no answer</sample><reflect><verdict>Correct</verdict></reflect>"  # a sample without answer: FP
    )
    c = detect(text, q, get_task("multiplication"))
    assert (c.n_verdicts, c.n_verdict_tp, c.n_verdict_fp, c.n_verdict_tn, c.n_verdict_fn) == (4, 1, 1, 0, 0)
    assert c.n_verdict_right == 1 and detect(text).n_verdict_tp is None


def test_rl_log_parts_written_before_the_new_metrics_stay_readable(tmp_path):
    from sfdata.queries import run_query
    from sfdata.store import RunDir
    from sfdata.store.parquet import new_part_name, write_parquet_atomic
    from sfdata.store.run import now_utc

    run = RunDir(tmp_path / "r").init({})
    old = {c: 0.5 for c in ("reward_mean", "reward_std", "accuracy", "completion_tokens", "loss", "learning_rate")}
    old |= {c: 0.25 for c in ("samples_per_answer", "verification_rate", "retry_rate", "backtrack_rate")}
    old |= {"confirm_rate": 0.0, "cue_rate": 0.75, "malformed_rate": 0.0}
    row = {"log_id": "l1", "arm": "rl_only", "step": 1, "completions": 4, **old, "created_at": now_utc()}
    write_parquet_atomic(pl.DataFrame([row]), run.table_path("rl_log") / new_part_name())
    got = run.read("rl_log").row(0, named=True)
    assert got["retry_rate"] == 0.25 and got["tagged_verdict_rate"] is None and "verification_rate" not in got
    q = run_query(run, "rl_skill_use", {"arm": None}).row(0, named=True)
    assert q["samples_per_answer"] == 0.25 and q["verdict_f1_correct"] is None
