"""Grade stage: extract the last <answer> of every rollout and grade it with its task's grader.

Grades live in their own table (`grades.parquet`, keyed by rollout_id) so rollouts are never
rewritten; regrading after a grader change is one cheap, atomic rewrite.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from sfdata.store import RunDir
from sfdata.tasks import Question, get_task, grade_response


def grade_frame(rollouts: pl.DataFrame, questions: pl.DataFrame) -> pl.DataFrame:
    """Grades for `rollouts` (needs rollout_id, question_id, response) given their questions."""
    qmap = {r["question_id"]: Question.from_row(r) for r in questions.iter_rows(named=True)}
    tasks: dict[str, Any] = {}
    rows = []
    for rid, qid, resp in rollouts.select("rollout_id", "question_id", "response").iter_rows():
        q = qmap.get(qid)
        if q is None:
            rows.append(
                {
                    "rollout_id": rid,
                    "question_id": qid,
                    "extracted_answer": None,
                    "is_correct": False,
                    "reason": "unknown_question",
                    "grader": "",
                }
            )
            continue
        task = tasks.setdefault(q.task, get_task(q.task))
        ans, res = grade_response(task, q, resp)
        version = getattr(task, "grader_version", task.name)
        rows.append(
            {
                "rollout_id": rid,
                "question_id": qid,
                "extracted_answer": ans,
                "is_correct": res.is_correct,
                "reason": res.reason.value,
                "grader": version,
            }
        )
    from sfdata.store.schemas import GRADES

    return pl.DataFrame(rows, schema=GRADES)


def grade_stage(run: RunDir) -> dict[str, Any]:
    """Reads `questions`, `rollouts`; rewrites `grades` (one row per rollout) in one atomic write."""
    t0 = time.perf_counter()
    rollouts = run.read("rollouts")
    if rollouts.height == 0:
        raise FileNotFoundError(f"{run.path} has no rollouts to grade; run `sf generate {run.path}` first")
    grades = grade_frame(rollouts, run.read("questions"))
    run.write("grades", grades)
    n_ok = int(grades["is_correct"].sum())
    reasons = dict(grades.group_by("reason").len().sort("len", descending=True).iter_rows())
    return {
        "graded": grades.height,
        "correct": n_ok,
        "accuracy": round(n_ok / grades.height, 4),
        "reasons": reasons,
        "seconds": round(time.perf_counter() - t0, 2),
    }
