"""Batch grading equals one-by-one grading, in order, in-process and over worker processes."""

from __future__ import annotations

import random

from sfdata.tasks import get_task, grade_response
from sfdata.tasks.batch import grade_batch, grade_responses
from sfdata.tasks.countdown import Countdown


def _corpus(n: int):
    rng = random.Random(0)
    qs = Countdown().generate(50, 0, level=4) + get_task("multiplication").generate(20, 0, level=2)
    hostile = ["9**9**9", "(" * 300 + "1" + ")" * 300, "1" * 5000, "__import__('os')", "1/0", "٣ + 4", None, ""]
    out_q, out_a = [], []
    for i in range(n):
        q = qs[i % len(qs)]
        w = q.data.get("witness") or q.answer
        a = rng.choice([w, f"{w} + 1", f"{w} = {q.answer}", rng.choice(hostile)])
        out_q.append(q)
        out_a.append(a)
    return out_q, out_a


def test_batch_equals_one_by_one_serial_and_parallel():
    qs, answers = _corpus(9000)
    one = [get_task(q.task).grade(q, a) for q, a in zip(qs, answers)]
    assert grade_batch(qs, answers, workers=1) == one
    assert grade_batch(qs, answers, workers=2) == one  # two worker processes, chunks back in order
    responses = [None if a is None else f"thinking...\n<answer>{a}</answer>" for a in answers[:300]]
    assert grade_responses(qs[:300], responses) == [
        grade_response(get_task(q.task), q, r) for q, r in zip(qs, responses)
    ]


def test_mismatched_lengths_are_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="questions but"):
        grade_batch(Countdown().generate(2, 0), ["1"])
