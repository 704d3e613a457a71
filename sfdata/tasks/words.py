"""The embedded English word list (about 1,500 common words, compiled for this project) used by
the letter tasks. Loaded once, lazily."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sfdata.tasks.base import GradeReason, GradeResult

T = TypeVar("T")

_FILE = Path(__file__).with_name("data") / "words.txt"


@lru_cache(maxsize=1)
def words() -> frozenset[str]:
    return frozenset(w.strip().lower() for w in _FILE.read_text(encoding="utf-8").split() if w.strip().isalpha())


def is_word(text: str) -> bool:
    return text.lower() in words()


def draw_distinct(rng: random.Random, pool: list[str], n: int, level: int, make: Callable[[str], T]) -> list[T]:
    """`make(word)` for `n` distinct words drawn from `pool` (clear error when the pool runs out)."""
    out: list[T] = []
    seen: set[str] = set()
    while len(out) < n and len(seen) < len(pool):
        w = rng.choice(pool)
        if w in seen:
            continue
        seen.add(w)
        out.append(make(w))
    if len(out) < n:
        raise ValueError(f"only {len(out)} distinct questions available at level {level}")
    return out


def parse_word(answer: str | None) -> tuple[str | None, GradeResult | None]:
    """(lower-case word, None), or (None, the failing GradeResult) for a missing or non-word answer."""
    if answer is None or not answer.strip():
        return None, GradeResult(False, GradeReason.NO_ANSWER)
    word = answer.strip().strip(".!\"'").lower()
    if len(word) > 40 or not word.isascii() or not word.isalpha():
        return None, GradeResult(False, GradeReason.PARSE_ERROR, "answer must be one word of letters")
    return word, None
