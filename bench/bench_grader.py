"""Grader throughput: our bounded Countdown grader vs a naive AST + Fraction evaluator.

100k random answers (correct witnesses, wrong values, reused numbers, junk, hostile strings).
The baseline is what a quick implementation does (parse, walk, compute) without our bounds
(power/size/length/depth guards, step format, number accounting). Neither ever calls eval.
"""

from __future__ import annotations

import argparse
import ast
import random
from collections import Counter
from fractions import Fraction

from _common import best_of, report

from sfdata.tasks.countdown import Countdown, grade_countdown


def naive_grade(answer: str, numbers: list[int], target: int) -> bool:
    try:
        tree = ast.parse(answer.split("=")[0], mode="eval")
    except SyntaxError:
        return False
    used: list[int] = []

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            used.append(n.value)
            return Fraction(n.value)
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            if isinstance(n.op, ast.Add):
                return a + b
            if isinstance(n.op, ast.Sub):
                return a - b
            if isinstance(n.op, ast.Mult):
                return a * b
            if isinstance(n.op, ast.Div):
                return a / b
        raise ValueError("unsupported")

    try:
        return ev(tree) == target and Counter(used) == Counter(numbers)
    except (ValueError, ZeroDivisionError, RecursionError):
        return False


def answers(n: int, seed: int = 0) -> list[tuple[str, list[int], int]]:
    rng = random.Random(seed)
    qs = Countdown().generate(500, seed, level=4)
    hostile = [
        "__import__('os').system('x')",
        "9**9**9",
        "1/0",
        "(" * 200 + "1" + ")" * 200,
        "1" * 5000,
        "٣ + 4",
        "x + y",
    ]
    out = []
    for i in range(n):
        q = qs[i % len(qs)]
        nums, target, w = q.data["numbers"], q.data["target"], q.data["witness"]
        r = rng.random()
        if r < 0.4:
            a = w
        elif r < 0.7:
            a = w.replace("+", "-", 1) if "+" in w else w + " + 1"
        elif r < 0.85:
            a = " + ".join(str(x) for x in nums[:-1] + nums[:1])
        elif r < 0.95:
            a = f"{w} = {target}"
        else:
            a = rng.choice(hostile)
        out.append((a, nums, target))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    n = 10_000 if args.quick else args.n
    data = answers(n)
    safe = [d for d in data if "**" not in d[0] and len(d[0]) < 1000]  # the naive one would hang or blow up on the rest
    t_ours, res = best_of(lambda: [grade_countdown(a, nums, t).is_correct for a, nums, t in data])
    t_base, _ = best_of(lambda: [naive_grade(a, nums, t) for a, nums, t in safe])
    ours = len(data) / t_ours
    base = len(safe) / t_base
    report(
        "grader",
        ours,
        base,
        "answers/s",
        f"{n:,} answers incl. hostile; baseline = naive AST+Fraction without bounds (skips the {len(data) - len(safe)} it cannot survive)",
        correct=sum(res),
    )


if __name__ == "__main__":
    main()
