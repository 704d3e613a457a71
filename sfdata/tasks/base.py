"""The Task protocol: how a task makes questions, phrases them, extracts and grades answers.

Graders never `eval`: each task parses answers itself, bounded in size and time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from sfdata.grammar import extract_answer, find_answer
from sfdata.store.ids import stable_id

__all__ = ["GradeReason", "GradeResult", "Question", "Task", "extract_answer", "grade_response"]


class GradeReason(str, Enum):
    CORRECT = "correct"
    NO_ANSWER = "no_answer"  # no <answer> tag / empty answer
    PARSE_ERROR = "parse_error"  # not a well-formed expression / answer
    ILLEGAL_TOKEN = "illegal_token"  # names, calls, power, unicode digits, ...
    TOO_LONG = "too_long"  # expression or literal over the size bounds
    REUSED_NUMBER = "reused_number"  # a given number used more often than given
    UNKNOWN_NUMBER = "unknown_number"  # a number that was not given
    MISSING_NUMBER = "missing_number"  # a given number not used
    UNUSED_RESULT = "unused_result"  # step format: an intermediate result no later step uses
    DIVISION_BY_ZERO = "division_by_zero"
    WRONG_VALUE = "wrong_value"  # well-formed but evaluates to something else
    WRONG_CLAIM = "wrong_claim"  # trailing "= X" where X is not the target
    WRONG_ANSWER = "wrong_answer"  # generic mismatch for non-arithmetic tasks


@dataclass(frozen=True)
class GradeResult:
    is_correct: bool
    reason: GradeReason
    detail: str = ""
    value: str | None = None  # what the answer evaluated to, when known

    def __bool__(self) -> bool:  # convenient in filters
        return self.is_correct


@dataclass(frozen=True)
class Question:
    """One task instance. `data` holds task fields (countdown: numbers, target, witness)."""

    task: str
    question: str
    answer: str
    level: int
    data: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    split: str = "train"

    @property
    def question_id(self) -> str:
        return stable_id(self.task, self.data)

    def to_row(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "task": self.task,
            "level": self.level,
            "question": self.question,
            "answer": self.answer,
            "data": json.dumps(self.data, sort_keys=True),
            "seed": self.seed,
            "split": self.split,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Question:
        data = row.get("data") or "{}"
        return cls(
            task=row["task"],
            question=row["question"],
            answer=str(row["answer"]),
            level=int(row.get("level") or 0),
            data=json.loads(data) if isinstance(data, str) else dict(data),
            seed=int(row.get("seed") or 0),
            split=row.get("split") or "train",
        )


@runtime_checkable
class Task(Protocol):
    name: str
    #: one line telling the model what goes inside <answer></answer>
    answer_format: str

    def generate(self, n: int, seed: int, level: int | None = None, **options: Any) -> list[Question]:
        """`n` distinct questions, deterministic under `seed`."""
        ...

    def grade(self, question: Question, answer: str | None) -> GradeResult:
        """Grade the text inside the final <answer> tag (None = no answer found)."""
        ...


def grade_response(task: Task, question: Question, response: str | None) -> tuple[str | None, GradeResult]:
    """Extract the final answer from a full response (`sfdata.grammar`) and grade it."""
    found = find_answer(response)
    if found.text is None:
        if found.problem and found.problem.startswith("refused"):
            return None, GradeResult(False, GradeReason.TOO_LONG, found.problem)
        return None, GradeResult(False, GradeReason.NO_ANSWER, found.problem or "")
    return found.text, task.grade(question, found.text)
