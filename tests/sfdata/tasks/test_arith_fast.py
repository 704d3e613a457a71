"""The fast evaluator accepts only what the ast path accepts, with the same value and literals."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata.tasks import arith
from sfdata.tasks.arith import ArithError, evaluate_tree, fast_evaluate, parse


def _slow(expr: str):
    try:
        return evaluate_tree(parse(expr))
    except ArithError as e:
        return e.reason


def _expr(depth: int = 0):
    leaf = st.integers(0, 10**13).map(str) | st.sampled_from(["0", "00", "05", "007"])
    if depth > 3:
        return leaf
    sub = st.deferred(lambda: _expr(depth + 1))
    op = st.sampled_from([" + ", " - ", " * ", " / ", "+", "*", "/ ", " ", "", "--", " -"])
    return leaf | st.tuples(sub, op, sub).map(lambda t: "".join(t)) | sub.map(lambda s: f"({s})")


@settings(max_examples=400, deadline=None)
@given(_expr() | st.text(alphabet="0123456789+-*/() \t", max_size=40))
def test_fast_path_agrees_with_the_ast_path(expr):
    fast = fast_evaluate(expr)
    if fast is not None:
        value, leaves = fast
        assert _slow(expr) == (value, leaves), expr
    # and evaluate() (fast first, then ast) always gives the ast path's verdict
    slow = _slow(expr)
    try:
        got = arith.evaluate(expr)
        assert not isinstance(slow, arith.GradeReason) and (got.value, sorted(got.literals.elements())) == (
            slow[0],
            sorted(slow[1]),
        )
    except ArithError as e:
        assert e.reason == slow


def test_bounds_hold_on_the_fast_path():
    assert fast_evaluate("(" * 40 + "1" + ")" * 40) is None  # deeper than MAX_DEPTH: ast path refuses it
    assert fast_evaluate("1" * 13) is None  # too many digits
    assert fast_evaluate(" + ".join(["1"] * 101)) is None  # too many nodes
    assert fast_evaluate("999999999999 * " * 40 + "1") is None  # too large -> checked path
    assert fast_evaluate("1 / 0") is None and fast_evaluate("-1 + 2") is None and fast_evaluate("05 + 1") is None
    assert fast_evaluate("(25 - 5) * 3") == (60, [25, 5, 3])
    assert fast_evaluate("1/3*3") == (1, [1, 3, 3])
