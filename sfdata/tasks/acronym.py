"""Acronym (out-of-domain eval): given a list of words, take the first letters of the words in
order; some words are distractors. Answer the English word (of `level` letters) spelled by the
first letters of a subsequence of the list, keeping the list's order. Each question is built
around a hidden solution word, graded against the embedded word list."""

from __future__ import annotations

import random
from typing import Any

from sfdata.tasks.base import GradeReason, GradeResult, Question
from sfdata.tasks.words import draw_distinct, is_word, parse_word, words


def _is_subsequence(word: str, initials: str) -> bool:
    it = iter(initials)
    return all(ch in it for ch in word)


class Acronym:
    name = "acronym"
    grader_version = "acronym/1"
    answer_format = "one English word spelled by the first letters of some of the listed words, in order"

    def generate(self, n: int, seed: int, level: int | None = None, split: str = "train", **_: Any) -> list[Question]:
        length = 4 if level is None else int(level)
        vocab = sorted(words())
        by_letter: dict[str, list[str]] = {}
        for w in vocab:
            by_letter.setdefault(w[0], []).append(w)
        targets = [w for w in vocab if len(w) == length and all(c in by_letter for c in w)]
        if not targets:
            raise ValueError(f"no {length}-letter words in the word list")
        rng = random.Random(f"acronym:{seed}:{length}")

        def make(target: str) -> Question:
            listed = [rng.choice(by_letter[c]) for c in target]
            for _ in range(2):  # distractors at random positions
                listed.insert(rng.randint(0, len(listed)), rng.choice(vocab))
            q = (
                f"Words: {', '.join(listed)}. Pick some of these words, keeping their order, so that their first "
                f"letters spell an English word of exactly {length} letters."
            )
            return Question(
                self.name, q, target, length, {"words": listed, "length": length, "example": target}, seed, split
            )

        return draw_distinct(rng, targets, n, length, make)

    def question_key(self, question: Question) -> str:
        """Order-free identity for train/test disjointness: the set of listed words."""
        return ",".join(sorted({str(w).lower() for w in question.data["words"]}))

    def grade(self, question: Question, answer: str | None) -> GradeResult:
        word, failed = parse_word(answer)
        if failed is not None:
            return failed
        assert word is not None  # parse_word returns a word exactly when it returns no failure
        if len(word) != int(question.data["length"]):
            return GradeResult(False, GradeReason.WRONG_ANSWER, f"needs exactly {question.data['length']} letters")
        initials = "".join(w[0] for w in question.data["words"])
        if not _is_subsequence(word, initials):
            return GradeResult(False, GradeReason.WRONG_ANSWER, "not spelled by first letters in order")
        if not is_word(word):
            return GradeResult(False, GradeReason.WRONG_ANSWER, f"{word!r} is not in the word list")
        return GradeResult(True, GradeReason.CORRECT, value=word)
