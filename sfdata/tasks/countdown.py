"""Countdown: reach a target from given numbers with + - * /, each number used exactly once.

Every generated question is solvable by construction: the target is computed from a random
expression tree over the chosen numbers, kept as the `witness`.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from fractions import Fraction
from itertools import combinations
from typing import Any

from sfdata.tasks.arith import ArithError, evaluate, fast_evaluate, fraction_text
from sfdata.tasks.base import GradeReason, GradeResult, Question
from sfdata.tasks.countdown_steps import grade_steps, is_step_answer

# 2: step answers must form one expression tree; decimal literals only
# 3: unary minus / plus on a number or a parenthesised group (`-19 + 71*(28 + 67)/19`), value checked exactly
GRADER_VERSION = "countdown/3"
_INT = re.compile(r"^\s*\d{1,12}\s*$")


def question_text(numbers: list[int], target: int) -> str:
    nums = ", ".join(str(n) for n in numbers)
    return (
        f"Use the numbers [{nums}] to make {target}. Combine them with +, -, * and / "
        f"(parentheses allowed) and use each number exactly once."
    )


def _combine(a: tuple[Fraction, str], b: tuple[Fraction, str], rng: random.Random) -> tuple[Fraction, str] | None:
    """One random legal operation on two sub-results that keeps values positive integers."""
    ops = ["+", "-", "*", "/"]
    rng.shuffle(ops)
    for op in ops:
        (x, ex), (y, ey) = (a, b) if rng.random() < 0.5 else (b, a)
        if op == "+":
            return x + y, f"({ex} + {ey})"
        if op == "*":
            return x * y, f"({ex} * {ey})"
        if op == "-":
            if x > y:
                return x - y, f"({ex} - {ey})"
            if y > x:
                return y - x, f"({ey} - {ex})"
        if op == "/":
            if y != 0 and (x / y).denominator == 1 and y != 1:
                return x / y, f"({ex} / {ey})"
            if x != 0 and (y / x).denominator == 1 and x != 1:
                return y / x, f"({ey} / {ex})"
    return None


def _strip_outer(expr: str) -> str:
    if expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, c in enumerate(expr):
            depth += c == "("
            depth -= c == ")"
            if depth == 0 and i < len(expr) - 1:
                return expr
        return expr[1:-1]
    return expr


def random_witness(numbers: list[int], rng: random.Random) -> tuple[int, str] | None:
    items = [(Fraction(n), str(n)) for n in numbers]
    while len(items) > 1:
        i, j = rng.sample(range(len(items)), 2)
        out = _combine(items[i], items[j], rng)
        if out is None:
            return None
        items = [it for k, it in enumerate(items) if k not in (i, j)] + [out]
    value, expr = items[0]
    if value.denominator != 1:
        return None
    return int(value), _strip_outer(expr)


def solve(numbers: list[int], target: int) -> str | None:
    """Exact exhaustive search; returns one expression reaching `target`, or None. Fine up to 5 numbers."""
    goal = Fraction(target)
    seen: set[tuple] = set()

    def rec(items: list[tuple[Fraction, str]]) -> str | None:
        if len(items) == 1:
            return items[0][1] if items[0][0] == goal else None
        key = tuple(sorted(v for v, _ in items))
        if key in seen:
            return None
        seen.add(key)
        for i, j in combinations(range(len(items)), 2):
            (a, ea), (b, eb) = items[i], items[j]
            rest = [it for k, it in enumerate(items) if k not in (i, j)]
            cands = [
                (a + b, f"({ea} + {eb})"),
                (a * b, f"({ea} * {eb})"),
                (a - b, f"({ea} - {eb})"),
                (b - a, f"({eb} - {ea})"),
            ]
            if b != 0:
                cands.append((a / b, f"({ea} / {eb})"))
            if a != 0:
                cands.append((b / a, f"({eb} / {ea})"))
            for c in cands:
                hit = rec(rest + [c])
                if hit:
                    return hit
        return None

    found = rec([(Fraction(n), str(n)) for n in numbers])
    return _strip_outer(found) if found else None


def grade_countdown(answer: str | None, numbers: list[int], target: int) -> GradeResult:
    """Grade one answer string (the text inside <answer>) against numbers and target."""
    if answer is None or not answer.strip():
        return GradeResult(False, GradeReason.NO_ANSWER)
    text = answer.strip()
    if len(text) > 4 * 512:
        return GradeResult(False, GradeReason.TOO_LONG, f"answer has {len(text)} characters")
    got = fast_evaluate(text)  # the common case: one plain expression using exactly the given numbers
    if got is not None and sorted(got[1]) == sorted(numbers):
        value = fraction_text(got[0])
        if got[0] != target:
            return GradeResult(False, GradeReason.WRONG_VALUE, f"evaluates to {value}, target is {target}", value)
        return GradeResult(True, GradeReason.CORRECT, value=value)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if is_step_answer(lines):  # `Step 1: 3 + 4 = 7` lines, prefix optional: one expression tree
        return grade_steps(lines, numbers, target)
    if len(lines) > 1:
        text = " ".join(lines)
    parts = text.split("=")
    if len(parts) > 2:
        return GradeResult(False, GradeReason.PARSE_ERROR, "more than one '='")
    expr, claim = parts[0], None
    if len(parts) == 2:
        left, right = parts
        if _INT.match(left) and not _INT.match(right):  # "98 = 44 + 19 + 35"
            left, right = right, left
        expr, claim = left, right
    try:
        ev = evaluate(expr)
    except ArithError as e:
        return GradeResult(False, e.reason, e.detail)
    if claim is not None:
        try:
            claimed = evaluate(claim).value
        except ArithError as e:
            return GradeResult(False, e.reason, f"after '=': {e.detail}")
        if claimed != target:
            return GradeResult(False, GradeReason.WRONG_CLAIM, f"claims {fraction_text(claimed)}, target is {target}")
    given = Counter(numbers)
    used = ev.literals
    for lit, cnt in used.items():
        if lit not in given:
            return GradeResult(False, GradeReason.UNKNOWN_NUMBER, f"{lit} is not one of the given numbers")
        if cnt > given[lit]:
            return GradeResult(False, GradeReason.REUSED_NUMBER, f"{lit} used {cnt} times, given {given[lit]}")
    missing = given - used
    if missing:
        return GradeResult(False, GradeReason.MISSING_NUMBER, f"unused: {sorted(missing.elements())}")
    value = fraction_text(ev.value)
    if ev.value != target:
        return GradeResult(False, GradeReason.WRONG_VALUE, f"evaluates to {value}, target is {target}", value)
    return GradeResult(True, GradeReason.CORRECT, value=value)


class Countdown:
    name = "countdown"
    grader_version = GRADER_VERSION
    answer_format = (
        "a single arithmetic expression that uses every given number exactly once, e.g. (25 - 5) * 3 "
        "(you may end it with = and the target)"
    )

    def worked_solution(self, question: Question) -> str:
        """A short correct solution, used as a few-shot demonstration."""
        nums, target, w = question.data["numbers"], question.data["target"], question.data.get("witness")
        w = w or solve(list(nums), int(target))
        return (
            f"I need {target} from {', '.join(map(str, nums))}. Trying {w}: it uses every number once "
            f"and equals {target}.\n<answer>{w}</answer>"
        )

    def generate(
        self,
        n: int,
        seed: int,
        level: int | None = None,
        low: int = 1,
        high: int = 100,
        target_low: int = 10,
        target_high: int = 1000,
        split: str = "train",
        **_: Any,
    ) -> list[Question]:
        level = 3 if level is None else int(level)
        if not 2 <= level <= 8:
            raise ValueError(f"countdown level (count of numbers) must be 2..8, got {level}")
        if not 1 <= low <= high:
            raise ValueError(f"bad number range [{low}, {high}]")
        rng = random.Random(f"countdown:{seed}:{level}:{low}:{high}:{target_low}:{target_high}")
        out: list[Question] = []
        seen: set[tuple] = set()
        attempts = 0
        while len(out) < n:
            attempts += 1
            if attempts > 200 * n + 1000:
                raise ValueError(f"could not make {n} distinct solvable questions in range; widen the ranges")
            numbers = [rng.randint(low, high) for _ in range(level)]
            made = random_witness(numbers, rng)
            if made is None:
                continue
            target, witness = made
            if not target_low <= target <= target_high:
                continue
            key = (tuple(sorted(numbers)), target)
            if key in seen:
                continue
            seen.add(key)
            data = {"numbers": numbers, "target": target, "witness": witness}
            out.append(Question(self.name, question_text(numbers, target), str(target), level, data, seed, split))
        return out

    def question_key(self, question: Question) -> str:
        """Order-free identity for train/test disjointness: the sorted numbers and the target."""
        nums = ",".join(str(n) for n in sorted(int(x) for x in question.data["numbers"]))
        return f"{nums}->{int(question.data['target'])}"

    def grade(self, question: Question, answer: str | None) -> GradeResult:
        return grade_countdown(answer, list(question.data["numbers"]), int(question.data["target"]))
