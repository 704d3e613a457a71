"""Out-of-domain tasks: generation is deterministic and solvable; graders are strict and safe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata.tasks import GradeReason, get_task, make_questions, task_names


def test_registry_lists_all_tasks():
    assert {"countdown", "multiplication", "letter_countdown", "acronym"} <= set(task_names())
    with pytest.raises(KeyError, match="unknown task"):
        get_task("sudoku")


@pytest.mark.parametrize(
    "name,level",
    [
        ("multiplication", 2),
        ("multiplication", 4),
        ("letter_countdown", 4),
        ("letter_countdown", 6),
        ("acronym", 3),
        ("acronym", 5),
    ],
)
def test_known_solution_grades_correct_and_generation_is_deterministic(name, level):
    task = get_task(name)
    qs = task.generate(30, 5, level=level)
    assert len({q.question_id for q in qs}) == 30
    assert [q.question_id for q in qs] == [q.question_id for q in task.generate(30, 5, level=level)]
    for q in qs:
        assert q.level == level
        assert task.grade(q, q.answer).is_correct, (q.question, q.answer)


def test_multiplication_grading():
    t = get_task("multiplication")
    q = t.generate(1, 0, level=3)[0]
    a, b = q.data["a"], q.data["b"]
    assert t.grade(q, f"{a * b:,}").is_correct  # thousands separators allowed
    assert t.grade(q, f"{a} * {b} = {a * b}").is_correct
    assert t.grade(q, str(a * b + 1)).reason == GradeReason.WRONG_ANSWER
    assert t.grade(q, "__import__('os')").reason == GradeReason.PARSE_ERROR
    assert t.grade(q, "9" * 100).reason == GradeReason.TOO_LONG
    assert t.grade(q, None).reason == GradeReason.NO_ANSWER


def test_letter_countdown_grading():
    t = get_task("letter_countdown")
    q = t.generate(1, 0, level=4)[0]
    letters = q.data["letters"]
    assert t.grade(q, q.answer.upper()).is_correct
    assert not t.grade(q, "zzzzzz").is_correct
    assert t.grade(q, "ab").reason == GradeReason.WRONG_ANSWER  # too short
    assert t.grade(q, "two words").reason == GradeReason.PARSE_ERROR
    over = q.answer + q.answer[0] * (letters.count(q.answer[0]) + 1)
    assert not t.grade(q, over).is_correct


def test_acronym_grading():
    t = get_task("acronym")
    q = t.generate(1, 0, level=4)[0]
    assert t.grade(q, q.answer).is_correct
    assert t.grade(q, q.answer[::-1] if q.answer[::-1] != q.answer else "zzzz").reason == GradeReason.WRONG_ANSWER
    assert t.grade(q, "abc").reason == GradeReason.WRONG_ANSWER
    assert t.grade(q, "").reason == GradeReason.NO_ANSWER


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_ood_graders_never_raise(text):
    for name in ("multiplication", "letter_countdown", "acronym"):
        t = get_task(name)
        q = t.generate(1, 0)[0]
        assert isinstance(t.grade(q, text).reason, GradeReason)


def test_make_questions_frame_matches_schema():
    from sfdata.store.schemas import QUESTIONS

    df = make_questions("multiplication", 4, 0, level=2)
    assert dict(df.schema) == QUESTIONS and df.height == 4
