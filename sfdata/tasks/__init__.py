"""Task registry. `get_task("countdown")` returns a ready Task instance."""

from __future__ import annotations

from importlib import import_module

from sfdata.tasks.base import GradeReason, GradeResult, Question, Task, extract_answer, grade_response

# name -> "module:Class"; modules import lazily so listing tasks is cheap.
_REGISTRY: dict[str, str] = {
    "countdown": "sfdata.tasks.countdown:Countdown",
    "multiplication": "sfdata.tasks.multiplication:Multiplication",
    "letter_countdown": "sfdata.tasks.letter_countdown:LetterCountdown",
    "acronym": "sfdata.tasks.acronym:Acronym",
}


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def register_task(name: str, target: str) -> None:
    """Register a user task as "module:Class" (the class must satisfy the Task protocol)."""
    _REGISTRY[name] = target


def get_task(name: str) -> Task:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(task_names())}") from None
    mod, _, cls = target.partition(":")
    return getattr(import_module(mod), cls)()


def make_questions(task: str, n: int, seed: int, level: int | None = None, **options):
    """`n` questions of `task` as a Polars frame in the `questions` schema (for `sf questions` / `sf run`)."""
    import polars as pl

    from sfdata.store.schemas import QUESTIONS

    rows = [q.to_row() for q in get_task(task).generate(n, seed, level=level, **options)]
    return pl.DataFrame(rows, schema=QUESTIONS)


__all__ = [
    "make_questions",
    "GradeReason",
    "GradeResult",
    "Question",
    "Task",
    "extract_answer",
    "get_task",
    "grade_response",
    "register_task",
    "task_names",
]
