"""Countdown step answers: one expression tree, the same verdict as the expression grader, hostile input."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata.tasks import GradeReason
from sfdata.tasks.countdown import grade_countdown
from sfdata.tasks.countdown_steps import MAX_STEPS, expression_to_steps, grade_steps, steps_to_expression
from tests.sfdata.tasks.test_countdown import _tree, graded_within


def test_steps_must_use_every_intermediate_result():
    # issue 11.3: 7 is never used, yet the old grader said correct
    res = grade_countdown("Step 1: 3 + 4 = 7\nStep 2: 5 * 2 = 10", [3, 4, 5, 2], 10)
    assert not res.is_correct and res.reason == GradeReason.UNUSED_RESULT


def test_an_intermediate_result_does_not_stand_in_for_a_given_number():
    # issue 11.3: the given 5 is unused (the intermediate 5 was taken for it)
    res = grade_countdown("Step 1: 2 + 3 = 5\nStep 2: 5 + 7 = 12", [2, 3, 5, 7], 12)
    assert not res.is_correct and res.reason == GradeReason.MISSING_NUMBER
    # ... and used properly, both fives are fine
    assert grade_countdown("Step 1: 2 + 3 = 5\nStep 2: 5 + 7 = 12\nStep 3: 12 * 5 = 60", [2, 3, 5, 7], 60)


@pytest.mark.parametrize(
    "answer",
    [
        "3 + 4 = 7\n7 * 5 = 35",  # no `Step k:` prefix: the same format
        "Step 1: 3 + 4 = 7\n\nStep 2: 7 * 5 = 35",
        "step 1) 4 + 3 = 7\nstep 2. 5 * 7 = 35",
        "Step 1: (3 + 4) * 5 = 35",  # one step may hold several operations
        "Step 1: 3 + 4 = 7\nStep 2: 35 = 7 * 5",  # the result may come first
    ],
)
def test_correct_step_answers(answer):
    res = graded_within(answer)
    assert res.is_correct, res


@pytest.mark.parametrize(
    "answer,reason",
    [
        ("Step 1: 3 + 4 = 7\nStep 2: 7 * 5 = 35\nStep 3: 35 - 0 = 35", GradeReason.UNKNOWN_NUMBER),
        ("Step 1: 3 + 4 = 7\nStep 2: 7 + 5 = 12", GradeReason.WRONG_VALUE),
        ("Step 1: 3 = 3\nStep 2: 3 + 4 = 7\nStep 3: 7 * 5 = 35", GradeReason.PARSE_ERROR),  # a step computes
        ("Step 1: 3 + 4 = 3 + 4\nStep 2: 7 * 5 = 35", GradeReason.PARSE_ERROR),  # results are whole numbers
        ("Step 1: 3 + 4 = 7 = 7\nStep 2: 7 * 5 = 35", GradeReason.PARSE_ERROR),
        ("Step 1: __import__('os').system('ls') = 7\nStep 2: 7 * 5 = 35", GradeReason.ILLEGAL_TOKEN),
        ("Step 1: 9**9**9 = 7\nStep 2: 7 * 5 = 35", GradeReason.ILLEGAL_TOKEN),
        ("Step 1: 3 + 4 = 7" + "0" * 20 + "\nStep 2: 7 * 5 = 35", GradeReason.TOO_LONG),
        ("Step 1: 3 + " + "9" * 5000 + " = 7\nStep 2: 7 * 5 = 35", GradeReason.TOO_LONG),
        ("Step 1: 3 / (4 - 4) = 7\nStep 2: 7 * 5 = 35", GradeReason.DIVISION_BY_ZERO),
        ("Step 1: " + "(" * 40 + "3 + 4" + ")" * 40 + " = 7\nStep 2: 7 * 5 = 35", GradeReason.TOO_LONG),
        ("Step 1: ٣ + 4 = 7\nStep 2: 7 * 5 = 35", GradeReason.ILLEGAL_TOKEN),
        ("Step 1: 3 + 4 = ７\nStep 2: 7 * 5 = 35", GradeReason.ILLEGAL_TOKEN),
        ("Step 1: 3 + 4 = -7\nStep 2: 7 * 5 = 35", GradeReason.PARSE_ERROR),
        ("Step 1: 3 + 4 = 7 # sum\nStep 2: 7 * 5 = 35", GradeReason.ILLEGAL_TOKEN),
        ("\n".join(f"Step {i}: 3 + 4 = 7" for i in range(MAX_STEPS + 1)), GradeReason.TOO_LONG),
    ],
)
def test_hostile_and_wrong_step_answers(answer, reason):
    res = graded_within(answer)
    assert not res.is_correct and res.reason == reason, res


@pytest.mark.parametrize("lit", ["0o20", "0b10000", "1_6", "0x10", "0X10", "16.0"])
def test_only_plain_decimal_literals(lit):
    for answer in (f"{lit} * 2", f"Step 1: {lit} * 2 = 32"):
        res = grade_countdown(answer, [16, 2], 32)
        assert res.reason == GradeReason.ILLEGAL_TOKEN, (answer, res)
    assert grade_countdown("16 * 2 # = 32 trust me", [16, 2], 32).reason == GradeReason.ILLEGAL_TOKEN
    assert grade_countdown("16 * 2", [16, 2], 32).is_correct
    assert grade_countdown("16 x 2", [16, 2], 32).is_correct and grade_countdown("10x2 + 16", [10, 2, 16], 36)


def test_0x10_is_not_zero_times_ten():
    # the old "3 x 4" spelling rule turned 0x10 into 0 * 10, a correct answer for numbers [0, 10]
    assert grade_countdown("0x10 + 5", [0, 10, 5], 5).reason == GradeReason.ILLEGAL_TOKEN


# ---- properties: steps and expressions agree ----------------------------------------------------
@st.composite
def step_answers(draw):
    """A step answer built by combining pool items (sometimes corrupted), with its numbers."""
    numbers = draw(st.lists(st.integers(1, 30), min_size=2, max_size=5))
    pool = list(numbers)
    lines = []
    while len(pool) > 1:
        i, j = draw(st.lists(st.integers(0, len(pool) - 1), min_size=2, max_size=2, unique=True))
        a, b = pool[i], pool[j]
        op = draw(st.sampled_from("+-*/" if b else "+-*"))
        v = {"+": a + b, "-": a - b, "*": a * b, "/": Fraction(a, b) if b else 0}[op]
        if v < 0 or Fraction(v).denominator != 1:
            op, v = "+", a + b
        pool = [x for k, x in enumerate(pool) if k not in (i, j)] + [int(v)]
        lines.append(f"Step {len(lines) + 1}: {a} {op} {b} = {int(v)}")
    kind = draw(st.sampled_from(["ok", "ok", "drop", "extra", "swap", "noprefix"]))
    if kind == "drop" and len(lines) > 1:
        del lines[draw(st.integers(0, len(lines) - 2))]
    elif kind == "extra":
        lines.insert(0, f"Step 0: {numbers[0]} + {numbers[-1]} = {numbers[0] + numbers[-1]}")
    elif kind == "swap" and len(lines) > 1:
        lines[0], lines[-1] = lines[-1], lines[0]
    elif kind == "noprefix":
        lines = [ln.split(": ", 1)[1] for ln in lines]
    return numbers, lines, pool[-1]


@settings(max_examples=400, deadline=None)
@given(step_answers(), st.integers(-2, 2))
def test_accepted_steps_rewrite_to_an_accepted_expression(case, delta):
    numbers, lines, value = case
    target = max(0, value + delta)
    res = grade_countdown("\n".join(lines), numbers, target)
    expr = steps_to_expression(lines, numbers)
    if res.is_correct:
        assert expr is not None and grade_countdown(expr, numbers, target).is_correct, (lines, expr)
    if expr is not None:  # a tree: the step grader and the expression grader agree on it
        assert res.is_correct == grade_countdown(expr, numbers, target).is_correct, (lines, expr)
    else:
        assert not res.is_correct


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_accepted_expressions_rewrite_to_accepted_steps(data):
    nums = data.draw(st.lists(st.integers(1, 60), min_size=2, max_size=6))
    expr, value = _tree(data.draw, nums)
    if value.denominator != 1 or value < 0:
        return
    res = grade_countdown(expr, nums, int(value))
    steps = expression_to_steps(expr)
    if res.is_correct and steps is not None:  # None: an intermediate is a fraction or negative (no step form)
        assert grade_steps(steps, nums, int(value)).is_correct, (expr, steps)
        assert grade_countdown("\n".join(steps), nums, int(value)).is_correct
        assert grade_countdown(steps_to_expression(steps, nums), nums, int(value)).is_correct


def test_steps_take_unary_signs_like_the_expression_grader():
    steps = ["Step 1: 28 + 67 = 95", "Step 2: 71 * 95 = 6745", "Step 3: 6745 / 19 = 355", "Step 4: -19 + 355 = 336"]
    nums = [19, 71, 28, 67, 19]
    assert grade_steps(steps, nums, 336).is_correct
    expr = steps_to_expression(steps, nums)
    assert grade_countdown(expr, nums, 336).is_correct
    assert grade_countdown("-19 + 71*(28 + 67)/19", nums, 336).is_correct
    # a negated intermediate is used once, by its value's digits
    assert grade_steps(["Step 1: 3 + 4 = 7", "Step 2: -7 + 10 = 3"], [3, 4, 10], 3).is_correct
    assert grade_steps(["Step 1: -3 + 4 = 1", "Step 2: 1 * -(-5) = 5"], [3, 4, 5], 5).is_correct
    # rejections stay: a step result is a whole number >= 0, ** and ! are illegal
    assert not grade_steps(["Step 1: 3 - 4 = -1", "Step 2: -1 + 5 = 4"], [3, 4, 5], 4).is_correct
    assert grade_steps(["Step 1: 3 ** 2 = 9", "Step 2: 9 - 5 = 4"], [3, 2, 5], 4).reason == GradeReason.ILLEGAL_TOKEN


def test_expressions_with_signs_rewrite_to_accepted_steps():
    expr = "-19 + 71*(28 + 67)/19"
    steps = expression_to_steps(expr)
    assert steps is not None and grade_steps(steps, [19, 71, 28, 67, 19], 336).is_correct, steps
    assert expression_to_steps("-(3 + 4)") is None  # its value, -7, is no step result
    assert expression_to_steps("-(3 - 10) * 5") is None  # 3 - 10 is a negative intermediate: no step form
    steps = expression_to_steps("-(10 - 3) + 42")
    assert steps is not None and grade_steps(steps, [10, 3, 42], 35).is_correct, steps


@st.composite
def _signed_expr(draw):
    nums = draw(st.lists(st.integers(1, 60), min_size=2, max_size=6))

    def tree(ns):
        if len(ns) == 1:
            text, val = str(ns[0]), Fraction(ns[0])
        else:
            k = draw(st.integers(1, len(ns) - 1))
            (le, lv), (re_, rv) = tree(ns[:k]), tree(ns[k:])
            op = draw(st.sampled_from("+-*/" if rv else "+-*"))
            val = {"+": lv + rv, "-": lv - rv, "*": lv * rv, "/": lv / rv if rv else 0}[op]
            text = f"({le} {op} {re_})"
        if draw(st.booleans()):
            text, val = f"-{text}", -val
        return text, val

    expr, value = tree(nums)
    return nums, expr, value


@settings(max_examples=300, deadline=None)
@given(_signed_expr())
def test_signed_expressions_and_their_steps_agree(case):
    nums, expr, value = case
    if value.denominator != 1 or value < 0:
        return
    assert grade_countdown(expr, nums, int(value)).is_correct, expr
    steps = expression_to_steps(expr)
    if steps is not None:
        assert grade_steps(steps, nums, int(value)).is_correct, (expr, steps)
        assert grade_countdown(steps_to_expression(steps, nums), nums, int(value)).is_correct
