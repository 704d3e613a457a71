"""The embedded English word list (about 1,500 common words, compiled for this project) used by
the letter tasks. Loaded once, lazily."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_FILE = Path(__file__).with_name("data") / "words.txt"


@lru_cache(maxsize=1)
def words() -> frozenset[str]:
    return frozenset(w.strip().lower() for w in _FILE.read_text(encoding="utf-8").split() if w.strip().isalpha())


def is_word(text: str) -> bool:
    return text.lower() in words()
