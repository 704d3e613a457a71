"""`sf eval`'s summary and `sf run`'s before/after table keep arms and models apart and carry n and intervals."""

from __future__ import annotations

import polars as pl
import pytest

from sfdata.stats import wilson
from sfdata.store import RunDir, stable_id
from sfdata.synth import eval_row


def _rows(arm: str, stage: str, oks: list[bool], budget: int = 0, model: str | None = None) -> list[dict]:
    return [
        eval_row(
            eval_id=stable_id(arm, stage, model, i, budget),
            arm=arm,
            model=model,
            stage=stage,
            question_id=f"q{i}",
            budget_rounds=budget,
            is_correct=ok,
        )
        for i, ok in enumerate(oks)
    ]


@pytest.fixture
def run(tmp_path):
    """RL only 0/4 and SkillFactory 4/4: both write stage "rl" (the old views printed one row of 0.5)."""
    run = RunDir(tmp_path / "r").init({})
    rows = _rows("base", "base", [False, False, True, False]) + _rows("rl_only", "rl", [False] * 4)
    rows += _rows("skillfactory", "rl", [True] * 4) + _rows("skillfactory", "rl", [True, True, False, False], budget=2)
    run.append("eval", pl.DataFrame(rows))
    return run


def test_summary_frame_has_one_row_per_arm_with_n_and_interval(run):
    from sftrain.eval import summary_frame

    s = summary_frame(run).filter(pl.col("budget_rounds") == 0)
    assert s.select("arm", "stage", "n_questions", "accuracy").rows() == [
        ("base", "base", 4, 0.25),
        ("rl_only", "rl", 4, 0.0),
        ("skillfactory", "rl", 4, 1.0),
    ]
    lo, hi = wilson(0, 4)
    assert (s["ci_lo"][1], s["ci_hi"][1]) == (round(lo, 3), round(hi, 3))


def test_summary_frame_counts_questions_not_samples(tmp_path):
    from sftrain.eval import summary_frame

    run = RunDir(tmp_path / "s").init({})
    rows = _rows("", "base", [True, False])
    second = _rows("", "base", [True, True])
    for r in second:  # a second sample of the same two questions
        r["sample_idx"], r["eval_id"] = 1, r["eval_id"] + "s1"
    run.append("eval", pl.DataFrame(rows + second))
    s = summary_frame(run)
    assert s.select("n", "n_questions", "accuracy").rows() == [(4, 2, 0.75)]
    assert (s["ci_lo"][0], s["ci_hi"][0]) == tuple(round(x, 3) for x in wilson(1.5, 2))


def test_before_after_has_a_column_per_arm_and_stage(run):
    from sftrain.eval import before_after

    t = before_after(run)
    assert t.height == 1 and t["n"].to_list() == [4]
    assert (t["acc base"][0], t["acc rl_only/rl"][0], t["acc skillfactory/rl"][0]) == (0.25, 0.0, 1.0)
    assert t["ci rl_only/rl"][0] == "[0.0, 0.49]"
    assert t["acc skillfactory/rl+BF"][0] == 0.5 and "acc rl_only/rl+BF" not in t.columns


def test_before_after_names_the_model_when_two_share_a_stage(tmp_path):
    from sftrain.eval import before_after

    run = RunDir(tmp_path / "m").init({})
    run.append("eval", pl.DataFrame(_rows("", "base", [True], model="a") + _rows("", "base", [False], model="b")))
    t = before_after(run)
    assert (t["acc base a"][0], t["acc base b"][0]) == (1.0, 0.0)
