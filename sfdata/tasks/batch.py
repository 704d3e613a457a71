"""Grade many answers at once, over all cores for large batches, with the same bounded graders.

One answer is cheap (~10-30 us), so a process pool pays only for large batches: below
`PARALLEL_MIN` items, or with `workers=1`, everything runs here. Workers get plain tuples
(task name and its registry target, question fields, answer text) and run the very same
`Task.grade` / `grade_response`, so every bound (length, depth, digits, bits) holds there too.
Results come back in input order.
"""

from __future__ import annotations

from collections.abc import Sequence

from sfdata.cpu_threads import usable_cpus
from sfdata.tasks import _REGISTRY, get_task, register_task
from sfdata.tasks.base import GradeResult, Question, grade_response

PARALLEL_MIN = 20_000  # below this a pool's start-up costs more than it saves
CHUNK = 4_000


def _grade_chunk(args: tuple) -> list[tuple[str | None, GradeResult]]:
    """Worker: grade one chunk. `responses=True`: extract the final answer first."""
    targets, items, responses = args
    for name, target in targets.items():  # user-registered tasks exist in this process too
        register_task(name, target)
    tasks: dict = {}
    out = []
    for q, text in items:
        task = tasks.get(q.task) or tasks.setdefault(q.task, get_task(q.task))
        if responses:
            out.append(grade_response(task, q, text))
        else:
            out.append((text, task.grade(q, text)))
    return out


def _workers(n: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    return usable_cpus() if n >= PARALLEL_MIN else 1


def _run(questions: Sequence[Question], texts: Sequence[str | None], workers: int | None, responses: bool):
    if len(questions) != len(texts):
        raise ValueError(f"{len(questions)} questions but {len(texts)} answers")
    items = list(zip(questions, texts))
    targets = {q.task: _REGISTRY[q.task] for q in questions if q.task in _REGISTRY}
    k = _workers(len(items), workers)
    if k <= 1 or len(items) < 2 * CHUNK:
        return _grade_chunk((targets, items, responses))
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    chunks = [(targets, items[i : i + CHUNK], responses) for i in range(0, len(items), CHUNK)]
    out: list = []
    with ProcessPoolExecutor(k, mp_context=get_context("spawn")) as pool:
        for part in pool.map(_grade_chunk, chunks):
            out.extend(part)
    return out


def grade_batch(
    questions: Sequence[Question], answers: Sequence[str | None], workers: int | None = None
) -> list[GradeResult]:
    """Grade answer texts (what is inside <answer>) for their questions (any mix of tasks), in order."""
    return [r for _, r in _run(questions, answers, workers, responses=False)]


def grade_responses(
    questions: Sequence[Question], responses: Sequence[str | None], workers: int | None = None
) -> list[tuple[str | None, GradeResult]]:
    """(extracted answer, grade) of full responses, like `grade_response` for each, in order."""
    return _run(questions, responses, workers, responses=True)
