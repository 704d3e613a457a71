"""No train/test overlap: order-free question keys per task, and eval questions drawn disjoint from training."""

from __future__ import annotations

import polars as pl

from sfdata.tasks import Question, get_task, make_questions
from sftrain.heldout import draw_held_out, keys_of


def _q(task, data, question="?"):
    return Question(task, question, "0", 1, data)


def test_keys_are_order_free_per_task():
    mul = get_task("multiplication")
    assert mul.question_key(_q("multiplication", {"a": 4, "b": 3})) == mul.question_key(
        _q("multiplication", {"a": 3, "b": 4})
    )
    assert mul.question_key(_q("multiplication", {"a": 4, "b": 3})) != mul.question_key(
        _q("multiplication", {"a": 4, "b": 4})
    )
    cd = get_task("countdown")
    k = cd.question_key(_q("countdown", {"numbers": [7, 3, 5], "target": 22}))
    assert k == cd.question_key(_q("countdown", {"numbers": [3, 5, 7], "target": 22}))
    assert k != cd.question_key(_q("countdown", {"numbers": [3, 5, 7], "target": 23}))
    ac = get_task("acronym")
    assert ac.question_key(_q("acronym", {"words": ["cat", "dog", "emu"]})) == ac.question_key(
        _q("acronym", {"words": ["emu", "cat", "dog"]})
    )
    lc = get_task("letter_countdown")
    assert lc.question_key(_q("letter_countdown", {"letters": list("tac")})) == lc.question_key(
        _q("letter_countdown", {"letters": list("act")})
    )


def test_the_issue_case_4x3_is_the_training_item_3x4():
    mul = get_task("multiplication")
    train = [Question("multiplication", "What is 3 * 4?", "12", 1, {"a": 3, "b": 4})]
    test = Question("multiplication", "What is 4 * 3?", "12", 1, {"a": 4, "b": 3})
    assert test.question_id != train[0].question_id  # the old check (ids) misses it
    assert mul.question_key(test) in keys_of(train)["multiplication"]


def test_demo_multiplication_eval_no_longer_repeats_training_items():
    mul = get_task("multiplication")
    train = keys_of(mul.generate(24, 0, level=1))  # configs/demo.toml [questions]
    old = mul.generate(6, 777, level=1, split="test")  # what eval drew before
    assert sum(mul.question_key(q) in train["multiplication"] for q in old) == 2
    drawn = draw_held_out(mul, 6, 777, 1, train)
    assert len(drawn.questions) == 6 and drawn.overlap_removed >= 2
    assert not {mul.question_key(q) for q in drawn.questions} & train["multiplication"]
    assert len({mul.question_key(q) for q in drawn.questions}) == 6  # no 3*4 and 4*3 twice either
    assert draw_held_out(mul, 6, 777, 1, train).questions == drawn.questions  # deterministic


def test_running_out_of_questions_is_a_clear_error():
    import pytest

    mul = get_task("multiplication")
    everything = keys_of(mul.generate(81, 0, level=1))  # all 45 unordered 1-digit pairs
    with pytest.raises(ValueError, match="only 0 questions are left after removing"):
        draw_held_out(mul, 3, 777, 1, everything)


def test_eval_stage_keeps_the_runs_training_questions_out_and_reports_it(tmp_path, monkeypatch):
    from sfdata.store import RunDir
    from sftrain.eval import EvalConfig, eval_stage
    from tests.sftrain.test_eval_prompt import RecordingEngine

    run = RunDir(tmp_path / "run").init({})
    run.write("questions", make_questions("multiplication", 24, 0, level=1))
    engines: list[RecordingEngine] = []
    monkeypatch.setattr("sfdata.engines.get_engine", lambda *a, **k: engines.append(RecordingEngine()) or engines[-1])
    info = eval_stage(run, EvalConfig(model="base-model", tasks=("multiplication:1",), n_questions=6, fewshot=0))
    assert info["overlap_removed"]["multiplication:1"] >= 2
    mul = get_task("multiplication")
    train = keys_of(Question.from_row(r) for r in run.read("questions").iter_rows(named=True))["multiplication"]
    ev = run.read("eval")
    assert ev.height == 6
    qids = set(ev["question_id"])
    asked = [q for q in draw_held_out(mul, 6, 777, 1, {}).questions]  # sanity: the plain draw does overlap
    assert any(mul.question_key(q) in train for q in asked)
    drawn = draw_held_out(mul, 6, 777, 1, {"multiplication": train}).questions
    assert qids == {q.question_id for q in drawn}
    assert ev.select(pl.col("prompt").str.contains("What is")).to_series().all()
