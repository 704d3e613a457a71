"""Countdown grader: hostile corpus, rules, random solvable problems, properties."""

from __future__ import annotations

import random
import threading
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata.tasks import GradeReason, extract_answer, get_task, grade_response
from sfdata.tasks.arith import ArithError, evaluate
from sfdata.tasks.countdown import Countdown, grade_countdown, random_witness, solve

NUMS, TARGET = [3, 4, 5], 35


def graded_within(answer, numbers=NUMS, target=TARGET, timeout=10.0):
    """Grade in a thread; a hang fails the test (a hang check, not a timing assertion)."""
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", grade_countdown(answer, numbers, target)), daemon=True)
    th.start()
    th.join(timeout)
    assert not th.is_alive(), f"grader hung on {str(answer)[:40]!r}"
    return out["r"]


HOSTILE = [
    ("__import__('os').system('ls')", GradeReason.ILLEGAL_TOKEN),
    ("9**9**9", GradeReason.ILLEGAL_TOKEN),
    ("2**10", GradeReason.ILLEGAL_TOKEN),
    ("(3+4)//5", GradeReason.ILLEGAL_TOKEN),
    ("3 % 4 + 5", GradeReason.ILLEGAL_TOKEN),
    ("1/0", GradeReason.DIVISION_BY_ZERO),
    ("3 / (4 - 4) + 5", GradeReason.DIVISION_BY_ZERO),
    ("1" * 10**6, GradeReason.TOO_LONG),
    ("1" * 13, GradeReason.TOO_LONG),
    ("(" * 10**5 + "3" + ")" * 10**5, GradeReason.TOO_LONG),
    ("(" * 40 + "3+4" + ")" * 40 + "*5", GradeReason.TOO_LONG),
    ("٣ + 4 * 5", GradeReason.ILLEGAL_TOKEN),  # Arabic-Indic digit
    ("３ + 4 * 5", GradeReason.ILLEGAL_TOKEN),  # full-width digit
    ("x + 4 * 5", GradeReason.ILLEGAL_TOKEN),
    ("lambda: 35", GradeReason.ILLEGAL_TOKEN),
    ("f'{35}'", GradeReason.ILLEGAL_TOKEN),
    ("'35'", GradeReason.ILLEGAL_TOKEN),
    ("[3, 4, 5]", GradeReason.ILLEGAL_TOKEN),
    ("(3 + 4) * 5.0", GradeReason.ILLEGAL_TOKEN),
    ("True + 34", GradeReason.ILLEGAL_TOKEN),
    ("-3 + 4 * 5", GradeReason.WRONG_VALUE),  # unary minus is arithmetic (grader 3); the value is checked
    ("(3 + 4) * 5!", GradeReason.ILLEGAL_TOKEN),
    ("3.4 * 5 + 1", GradeReason.ILLEGAL_TOKEN),  # a decimal point joining two given numbers
    ("-(3 + 4) * -5 + 0", GradeReason.UNKNOWN_NUMBER),
    ("~3 + 4 * 5", GradeReason.ILLEGAL_TOKEN),
    ("-" * 300 + "3 + 4 * 5", GradeReason.TOO_LONG),
    ("(3 + 4) * 5 * 5", GradeReason.REUSED_NUMBER),
    ("(3 + 4) * 5 + 6 - 6", GradeReason.UNKNOWN_NUMBER),
    ("(3 + 4) * 6", GradeReason.UNKNOWN_NUMBER),
    ("4 * 5 + 15", GradeReason.UNKNOWN_NUMBER),
    ("4 * 5", GradeReason.MISSING_NUMBER),
    ("3 + 4 + 5", GradeReason.WRONG_VALUE),
    ("(3 + 4) * 5 = 36", GradeReason.WRONG_CLAIM),
    ("(3 + 4) * 5 = 35 = 35", GradeReason.PARSE_ERROR),
    ("(3 + 4 * 5", GradeReason.PARSE_ERROR),
    ("3 + + 4 * 5", GradeReason.WRONG_VALUE),
    ("", GradeReason.NO_ANSWER),
    (None, GradeReason.NO_ANSWER),
    ("   ", GradeReason.NO_ANSWER),
]


@pytest.mark.parametrize("answer,reason", HOSTILE, ids=[str(a)[:25] for a, _ in HOSTILE])
def test_hostile_answers_are_wrong_with_reason_and_never_hang(answer, reason):
    res = graded_within(answer)
    assert not res.is_correct
    assert res.reason == reason, res


@pytest.mark.parametrize(
    "answer",
    [
        "(3 + 4) * 5",
        "(3+4)*5",
        "5 * (4 + 3)",
        "(3 + 4) * 5 = 35",
        "35 = (3 + 4) * 5",
        "(3 + 4) × 5",
        "$(3 + 4) \\times 5$",
        "(3 + 4) x 5",
        "Step 1: 3 + 4 = 7\nStep 2: 7 * 5 = 35",
    ],
)
def test_correct_spellings(answer):
    res = graded_within(answer)
    assert res.is_correct, res
    assert res.reason == GradeReason.CORRECT


def test_step_format_errors():
    assert graded_within("Step 1: 3 + 4 = 8\nStep 2: 8 * 5 = 40").reason == GradeReason.WRONG_CLAIM
    assert graded_within("Step 1: 3 + 4 = 7\nStep 2: 7 * 7 = 49").reason == GradeReason.REUSED_NUMBER
    assert graded_within("Step 1: 3 + 4 = 7\nStep 2: 7 + 28 = 35").reason == GradeReason.UNKNOWN_NUMBER
    assert graded_within("Step 1: 4 * 5 = 20\nStep 2: 20 + 15 = 35").reason == GradeReason.UNKNOWN_NUMBER
    assert graded_within("Step 1: 3 + 4 = 7").reason == GradeReason.MISSING_NUMBER
    assert graded_within("Step 1: 3 + 4 = 7\nthen times five").reason == GradeReason.PARSE_ERROR


def test_exact_fraction_arithmetic():
    # 1/3 * 3 is exactly 1: floats would say 0.9999999999999999 on some paths
    assert grade_countdown("(1 / 3) * 3 + 6", [1, 3, 3, 6], 7).is_correct
    assert grade_countdown("(10 / 4) * 2", [10, 4, 2], 5).is_correct
    assert not grade_countdown("10 / 4", [10, 4], 2).is_correct


def test_repeated_given_numbers_may_each_be_used_once():
    assert grade_countdown("5 * 5 + 10", [5, 5, 10], 35).is_correct
    assert grade_countdown("5 * 5 * 5 + 10", [5, 5, 10], 135).reason == GradeReason.REUSED_NUMBER


def test_extract_answer_takes_the_last_complete_tag():
    text = "<answer>1 + 2</answer> hmm, no. <answer> (3 + 4) * 5 </answer> <answer>unclosed"
    assert extract_answer(text) == "(3 + 4) * 5"
    assert extract_answer("no tags") is None
    assert extract_answer("<answer>   </answer>") is None
    assert extract_answer(None) is None


def test_grade_response_end_to_end():
    task = get_task("countdown")
    q = task.generate(1, 0, level=3)[0]
    ans, res = grade_response(task, q, f"I think... <answer>{q.data['witness']}</answer>")
    assert ans == q.data["witness"] and res.is_correct
    _, res = grade_response(task, q, "I give up")
    assert res.reason == GradeReason.NO_ANSWER


@pytest.mark.parametrize("level", [3, 4, 5, 6])
def test_generated_questions_are_solvable_distinct_and_deterministic(level):
    task = Countdown()
    qs = task.generate(150, seed=level, level=level)
    assert len({q.question_id for q in qs}) == 150
    assert [q.question_id for q in qs] == [q.question_id for q in task.generate(150, seed=level, level=level)]
    for q in qs:
        assert q.level == level and len(q.data["numbers"]) == level
        assert str(q.data["target"]) == q.answer
        assert 10 <= q.data["target"] <= 1000
        res = task.grade(q, q.data["witness"])
        assert res.is_correct, (q.data, res)
        # a perturbed witness is wrong
        bad = q.data["witness"] + " + 1"
        assert not task.grade(q, bad).is_correct


def test_generation_options_and_errors():
    qs = Countdown().generate(20, 1, level=3, low=1, high=10, target_low=1, target_high=50)
    assert all(1 <= n <= 10 for q in qs for n in q.data["numbers"])
    with pytest.raises(ValueError, match="level"):
        Countdown().generate(1, 0, level=1)
    with pytest.raises(ValueError, match="could not make"):
        Countdown().generate(50, 0, level=2, low=1, high=2, target_low=1, target_high=3)


def test_solver_finds_solutions_and_reports_impossible():
    assert solve([3, 4, 5], 35) is not None
    assert grade_countdown(solve([25, 5, 3], 60), [25, 5, 3], 60).is_correct
    assert solve([1, 1, 1], 100) is None


# ---- properties ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_grader_never_raises_on_arbitrary_text(text):
    res = grade_countdown(text, NUMS, TARGET)
    assert isinstance(res.reason, GradeReason)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/() =.xX_abc'\"", max_size=120))
def test_grader_never_raises_on_arithmetic_like_text(text):
    res = grade_countdown(text, NUMS, TARGET)
    assert res.is_correct == (res.reason == GradeReason.CORRECT)


def _tree(draw, nums):
    if len(nums) == 1:
        return str(nums[0]), Fraction(nums[0])
    k = draw(st.integers(1, len(nums) - 1))
    (le, lv), (re_, rv) = _tree(draw, nums[:k]), _tree(draw, nums[k:])
    op = draw(st.sampled_from("+-*/"))
    if op == "/" and rv == 0:
        op = "+"
    val = {"+": lv + rv, "-": lv - rv, "*": lv * rv, "/": lv / rv if rv else None}[op]
    return f"({le} {op} {re_})", val


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_expression_trees_grade_consistently_with_fraction_evaluation(data):
    nums = data.draw(st.lists(st.integers(1, 100), min_size=2, max_size=6))
    expr, value = _tree(data.draw, nums)
    assert evaluate(expr).value == value
    if value.denominator == 1 and value > 0:
        assert grade_countdown(expr, nums, int(value)).is_correct
        assert grade_countdown(expr, nums, int(value) + 1).reason == GradeReason.WRONG_VALUE


def test_arith_errors_carry_reasons():
    with pytest.raises(ArithError) as ei:
        evaluate("2**3")
    assert ei.value.reason == GradeReason.ILLEGAL_TOKEN


def test_random_witness_is_deterministic():
    a = random_witness([4, 8, 15], random.Random(3))
    b = random_witness([4, 8, 15], random.Random(3))
    assert a == b


UNARY_CORRECT = [
    ("-19 + 71*(28 + 67)/19", [19, 71, 28, 67, 19], 336),  # a reasoning-gym reference answer
    ("-(3 - 4) * 5 * 7", [3, 4, 5, 7], 35),
    ("5 * 7 - -(4 - 4)", [4, 4, 5, 7], 35),
    ("+3 * (+4 + 5) + 8", [3, 4, 5, 8], 35),
    ("--3 * 4 - -(-(5)) + 12", [3, 4, 5, 12], 19),
    ("-3 - 4 + 42 = 35", [3, 4, 42], 35),
    ("35 = -(3 - 4) * 35", [3, 4, 35], 35),
]


@pytest.mark.parametrize("answer,numbers,target", UNARY_CORRECT, ids=[a for a, _, _ in UNARY_CORRECT])
def test_unary_signs_on_numbers_and_groups_are_graded_exactly(answer, numbers, target):
    assert grade_countdown(answer, numbers, target).is_correct
    res = grade_countdown(answer, numbers, target + 1)
    assert res.reason in (GradeReason.WRONG_VALUE, GradeReason.WRONG_CLAIM), res


def test_unary_minus_uses_the_number_once():
    assert grade_countdown("-19 + 19 * 2 + 17", [19, 2, 17], 36).reason == GradeReason.REUSED_NUMBER
    assert grade_countdown("-19 + 71*(28 + 67)/19", [19, 71, 28, 67], 336).reason == GradeReason.REUSED_NUMBER
    assert grade_countdown("-19 + 2 * 28", [2, 28], 37).reason == GradeReason.UNKNOWN_NUMBER
    assert grade_countdown("-(2 * 28) + 93", [2, 28, 93], 37).is_correct


def _signed_tree(draw, nums):
    """A random expression over nums with random unary signs on numbers and groups, and its exact value."""
    if len(nums) == 1:
        text, val = str(nums[0]), Fraction(nums[0])
    else:
        k = draw(st.integers(1, len(nums) - 1))
        (le, lv), (re_, rv) = _signed_tree(draw, nums[:k]), _signed_tree(draw, nums[k:])
        op = draw(st.sampled_from("+-*/"))
        if op == "/" and rv == 0:
            op = "+"
        val = {"+": lv + rv, "-": lv - rv, "*": lv * rv, "/": lv / rv if rv else None}[op]
        text = f"({le} {op} {re_})"
    for sign in draw(st.lists(st.sampled_from("-+"), max_size=3)):
        text, val = (f"-{text}", -val) if sign == "-" else (f"+{text}", val)
    return text, val


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_expressions_with_unary_signs_grade_correct_at_their_value(data):
    nums = data.draw(st.lists(st.integers(1, 100), min_size=1, max_size=6))
    expr, value = _signed_tree(data.draw, nums)
    assert evaluate(expr).value == value
    if value.denominator == 1:
        assert grade_countdown(expr, nums, int(value)).is_correct, expr
        assert grade_countdown(expr, nums, int(value) + 1).reason == GradeReason.WRONG_VALUE


def test_grader_id_is_bumped_for_unary_signs():
    assert get_task("countdown").grader_version == "countdown/3"
