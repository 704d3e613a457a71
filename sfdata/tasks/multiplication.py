"""Multi-digit multiplication (out-of-domain eval): exact integer answer; `level` = digits per factor."""

from __future__ import annotations

import random
import re
from typing import Any

from sfdata.tasks.base import GradeReason, GradeResult, Question

_NUM = re.compile(r"^-?\d[\d,_ ]*$")


class Multiplication:
    name = "multiplication"
    grader_version = "multiplication/1"
    answer_format = "the product as a plain integer"

    def worked_solution(self, question: Question) -> str:
        """A short correct solution, used as a few-shot demonstration."""
        a, b = int(question.data["a"]), int(question.data["b"])
        if b < 10:
            steps = f"{a} * {b} means {b} groups of {a}: " + " + ".join([str(a)] * b) + f" = {a * b}."
        else:
            parts = [(int(d) * 10**i) for i, d in enumerate(reversed(str(b))) if d != "0"][::-1]
            steps = (
                f"{a} * {b} = "
                + " + ".join(f"{a} * {p}" for p in parts)
                + " = "
                + " + ".join(str(a * p) for p in parts)
                + f" = {a * b}."
            )
        return f"{steps}\n<answer>{a * b}</answer>"

    def generate(self, n: int, seed: int, level: int | None = None, split: str = "train", **_: Any) -> list[Question]:
        digits = 3 if level is None else int(level)
        if not 1 <= digits <= 12:
            raise ValueError(f"multiplication level (digits per factor) must be 1..12, got {digits}")
        rng = random.Random(f"multiplication:{seed}:{digits}")
        lo, hi = 10 ** (digits - 1), 10**digits - 1
        out: list[Question] = []
        seen: set[tuple[int, int]] = set()
        while len(out) < n:
            a, b = rng.randint(lo, hi), rng.randint(lo, hi)
            if (a, b) in seen:
                if len(seen) >= (hi - lo + 1) ** 2:
                    raise ValueError("not enough distinct products at this level")
                continue
            seen.add((a, b))
            out.append(Question(self.name, f"What is {a} * {b}?", str(a * b), digits, {"a": a, "b": b}, seed, split))
        return out

    def question_key(self, question: Question) -> str:
        """Order-free identity for train/test disjointness: the sorted factors (`4 * 3` is `3 * 4`)."""
        return "*".join(str(f) for f in sorted((int(question.data["a"]), int(question.data["b"]))))

    def grade(self, question: Question, answer: str | None) -> GradeResult:
        if answer is None or not answer.strip():
            return GradeResult(False, GradeReason.NO_ANSWER)
        text = answer.strip().split("=")[-1].strip().rstrip(".")
        if len(text) > 64:
            return GradeResult(False, GradeReason.TOO_LONG, f"{len(text)} characters")
        if not _NUM.match(text):
            return GradeResult(False, GradeReason.PARSE_ERROR, "not an integer")
        value = int(re.sub(r"[,_ ]", "", text))
        truth = int(question.answer)
        if value != truth:
            return GradeResult(False, GradeReason.WRONG_ANSWER, f"{value} != {truth}", str(value))
        return GradeResult(True, GradeReason.CORRECT, value=str(value))
