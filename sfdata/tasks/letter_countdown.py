"""Letter Countdown (out-of-domain eval): form an English word of at least L letters from the
given letters, each letter used at most as often as given. Graded against the embedded word list;
every question has a known solution (the word its letters were drawn around)."""

from __future__ import annotations

import random
import string
from collections import Counter
from typing import Any

from sfdata.tasks.base import GradeReason, GradeResult, Question
from sfdata.tasks.words import draw_distinct, is_word, parse_word, words


class LetterCountdown:
    name = "letter_countdown"
    grader_version = "letter_countdown/1"
    answer_format = "one English word made from the given letters"

    def generate(self, n: int, seed: int, level: int | None = None, split: str = "train", **_: Any) -> list[Question]:
        min_len = 4 if level is None else int(level)
        pool = sorted(w for w in words() if len(w) >= min_len)
        if not pool:
            raise ValueError(f"no words with at least {min_len} letters in the word list")
        rng = random.Random(f"letter_countdown:{seed}:{min_len}")

        def make(w: str) -> Question:
            letters = list(w) + [rng.choice(string.ascii_lowercase) for _ in range(max(2, 9 - len(w)))]
            rng.shuffle(letters)
            q = (
                f"Using only these letters: {' '.join(letters).upper()}, form an English word with at least "
                f"{min_len} letters. Each letter can be used at most as many times as it appears."
            )
            return Question(
                self.name, q, w, min_len, {"letters": letters, "min_len": min_len, "example": w}, seed, split
            )

        return draw_distinct(rng, pool, n, min_len, make)

    def question_key(self, question: Question) -> str:
        """Order-free identity for train/test disjointness: the given letters, sorted."""
        return "".join(sorted(str(c).lower() for c in question.data["letters"]))

    def grade(self, question: Question, answer: str | None) -> GradeResult:
        word, failed = parse_word(answer)
        if failed is not None:
            return failed
        assert word is not None  # parse_word returns a word exactly when it returns no failure
        if len(word) < int(question.data["min_len"]):
            return GradeResult(False, GradeReason.WRONG_ANSWER, f"shorter than {question.data['min_len']} letters")
        have = Counter(question.data["letters"])
        if Counter(word) - have:
            return GradeResult(
                False,
                GradeReason.REUSED_NUMBER if set(word) <= set(have) else GradeReason.UNKNOWN_NUMBER,
                f"uses letters not available: {''.join(sorted((Counter(word) - have).elements()))}",
            )
        if not is_word(word):
            return GradeResult(False, GradeReason.WRONG_ANSWER, f"{word!r} is not in the word list")
        return GradeResult(True, GradeReason.CORRECT, value=word)
