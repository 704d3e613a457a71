"""Countdown answers written as steps (`Step 1: 3 + 4 = 7` / `7 * 5 = 35`), graded as ONE expression tree.

A step answer is correct only if its steps form a single tree: every given number is used exactly
once, every intermediate result is used exactly once by a later step, each step's arithmetic is
true, and the last step's result is the target. Then it rewrites to one expression (substitute each
intermediate by the step that made it) that the expression grader accepts, and every accepted
expression whose intermediate values are whole numbers can be written as steps.

Unary signs follow the expression grader (countdown grader 3): a step's left side may sign a number or a
group (`Step 4: -19 + 355 = 336` uses the given 19), while a step's result stays a whole number >= 0, so a
negated value never becomes a result of its own (`-(3 + 4) + 10` is `3 + 4 = 7`, then `-7 + 10 = 3`).

A literal that equals both a given number and an earlier result (given 5, `2 + 3 = 5`) is taken as
the earlier result first: any correct reading of the steps can be changed into that one.
"""

from __future__ import annotations

import ast
import re
from collections import Counter, defaultdict, deque
from fractions import Fraction
from typing import cast

from sfdata.tasks.arith import ArithError, evaluate_tree, fraction_text, parse, tree_text
from sfdata.tasks.base import GradeReason, GradeResult

STEP_PREFIX = re.compile(r"^\s*step\s*\d{1,3}\s*[:.)-]\s*", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*\d{1,12}\s*$")
MAX_STEPS = 16


def is_step_answer(lines: list[str]) -> bool:
    """Steps when a line starts with `Step k:`, or when there are several lines and each has an '='."""
    return any(STEP_PREFIX.match(ln) for ln in lines) or (len(lines) > 1 and all("=" in ln for ln in lines))


class _Step:
    __slots__ = ("tree", "value", "sources")

    def __init__(self, tree: ast.Expression, value: Fraction, sources: list[int | None]):
        self.tree = tree
        self.value = value
        self.sources = sources  # per literal: index of the step whose result it uses, None = a given number


def _parse_step(line: str) -> tuple[ast.Expression, Fraction, int]:
    """(lhs tree, lhs value, claimed whole-number result) of one `lhs = result` line."""
    body = STEP_PREFIX.sub("", line, count=1)
    if body.count("=") != 1:
        raise ArithError(GradeReason.PARSE_ERROR, f"each step needs exactly one '=': {line.strip()[:60]!r}")
    lhs, rhs = body.split("=")
    if _WHOLE.match(lhs) and not _WHOLE.match(rhs):  # "7 = 3 + 4"
        lhs, rhs = rhs, lhs
    tree = parse(lhs)
    if not isinstance(tree.body, ast.BinOp):
        raise ArithError(GradeReason.PARSE_ERROR, f"a step must compute something: {line.strip()[:60]!r}")
    value, _ = evaluate_tree(tree)
    claim = parse(rhs)  # same bounds and literal rules as the left side
    if not isinstance(claim.body, ast.Constant) or not isinstance(claim.body.value, int) or not _WHOLE.match(rhs):
        raise ArithError(GradeReason.PARSE_ERROR, f"a step's result must be a whole number: {rhs.strip()[:30]!r}")
    return tree, value, int(claim.body.value)


def _read_steps(lines: list[str], numbers: list[int]) -> list[_Step] | GradeResult:
    """Parse every step and assign each literal to a given number or an earlier, still unused result."""
    if len(lines) > MAX_STEPS:
        return GradeResult(False, GradeReason.TOO_LONG, f"{len(lines)} steps (max {MAX_STEPS})")
    givens = Counter(numbers)
    results: dict[int, deque[int]] = defaultdict(deque)  # value -> unused earlier steps that produced it
    seen = set(numbers)
    steps: list[_Step] = []
    for i, line in enumerate(lines):
        try:
            tree, value, claimed = _parse_step(line)
        except ArithError as e:
            return GradeResult(False, e.reason, e.detail)
        if value != claimed:
            return GradeResult(
                False, GradeReason.WRONG_CLAIM, f"step {i + 1} gives {fraction_text(value)}, not {claimed}"
            )
        _, leaves = evaluate_tree(tree)
        sources: list[int | None] = []
        for lit in leaves:
            if results[lit]:
                sources.append(results[lit].popleft())
            elif givens[lit] > 0:
                givens[lit] -= 1
                sources.append(None)
            else:
                reason = GradeReason.REUSED_NUMBER if lit in seen else GradeReason.UNKNOWN_NUMBER
                return GradeResult(False, reason, f"{lit} is not available at step {i + 1}")
        results[claimed].append(i)
        seen.add(claimed)
        steps.append(_Step(tree, value, sources))
    if not steps:
        return GradeResult(False, GradeReason.NO_ANSWER, "no steps")
    if +givens:
        return GradeResult(False, GradeReason.MISSING_NUMBER, f"unused: {sorted((+givens).elements())}")
    unused = sorted(j + 1 for q in results.values() for j in q if j != len(steps) - 1)
    if unused:
        return GradeResult(False, GradeReason.UNUSED_RESULT, f"result of step(s) {unused} never used later")
    return steps


def grade_steps(lines: list[str], numbers: list[int], target: int) -> GradeResult:
    """Grade step lines as one expression tree (see the module docstring)."""
    steps = _read_steps(lines, numbers)
    if isinstance(steps, GradeResult):
        return steps
    last = steps[-1].value
    if last != target:
        return GradeResult(
            False, GradeReason.WRONG_VALUE, f"final step gives {fraction_text(last)}", fraction_text(last)
        )
    return GradeResult(True, GradeReason.CORRECT, value=str(target))


def steps_to_expression(lines: list[str], numbers: list[int]) -> str | None:
    """The single expression the steps stand for (each result replaced by its step), None if they are no tree."""
    steps = _read_steps(lines, numbers)
    if isinstance(steps, GradeResult):
        return None
    texts: list[str] = []
    for st in steps:
        leaf_text = []
        _, leaves = evaluate_tree(st.tree)
        for lit, src in zip(leaves, st.sources):
            leaf_text.append(str(lit) if src is None else f"({texts[src]})")
        texts.append(tree_text(st.tree, leaf_text))
    return texts[-1]


def expression_to_steps(expr: str) -> list[str] | None:
    """`Step k: a op b = c` lines for an expression, one per operation (post-order); None when it has
    no operation or an intermediate value is not a whole number >= 0 (steps can only name whole results)."""
    tree = parse(expr)
    lines: list[str] = []

    def rec(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return rec(node.body)
        if isinstance(node, ast.BinOp):
            a, b = rec(node.left), rec(node.right)
            sub = ast.Expression(ast.BinOp(ast.Constant(0), node.op, ast.Constant(0)))
            value, _ = evaluate_tree(ast.Expression(ast.BinOp(_const(a), node.op, _const(b))))
            if value.denominator != 1 or value < 0:
                raise ValueError("not a whole intermediate")
            lines.append(f"Step {len(lines) + 1}: {tree_text(sub, [fraction_text(a), fraction_text(b)])} = {value}")
            return value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = rec(node.operand)  # a sign is no step: the next step writes the signed value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant):
            return Fraction(cast(int, node.value))  # parse() admits integer literals only
        raise ArithError(GradeReason.ILLEGAL_TOKEN, f"{type(node).__name__} is not arithmetic")

    try:
        whole = rec(tree)
    except ValueError:  # includes ArithError (division by zero): no step form
        return None
    if lines and whole != int(lines[-1].rsplit("=", 1)[1]):  # `-(3 + 4)`: a signed final value has no step form
        return None
    return lines or None


def _const(v: Fraction) -> ast.Constant:
    return ast.Constant(int(v))
