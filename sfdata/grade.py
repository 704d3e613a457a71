"""Grade stage: extract the last <answer> of every rollout and grade it with its task's grader.

Grades live in their own table (`grades.parquet`, keyed by rollout_id) so rollouts are never
rewritten; regrading after a grader change is one cheap, atomic rewrite.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from sfdata.store import RunDir
from sfdata.tasks import Question, get_task


def grade_frame(rollouts: pl.DataFrame, questions: pl.DataFrame, workers: int | None = None) -> pl.DataFrame:
    """Grades for `rollouts` (needs rollout_id, question_id, response) given their questions.

    Large frames are graded over all cores (`sfdata.tasks.batch`); `workers=1` keeps it in-process."""
    from sfdata.store.schemas import GRADES
    from sfdata.tasks.batch import grade_responses

    qmap = {r["question_id"]: Question.from_row(r) for r in questions.iter_rows(named=True)}
    rows = rollouts.select("rollout_id", "question_id", "response").rows()
    known = [(rid, qid, resp) for rid, qid, resp in rows if qid in qmap]
    versions = current_grader_ids({qmap[qid].task for _, qid, _ in known})
    graded = iter(grade_responses([qmap[q] for _, q, _ in known], [r for _, _, r in known], workers))
    out: list[tuple] = []
    for rid, qid, _resp in rows:
        q = qmap.get(qid)
        if q is None:
            out.append((rid, qid, None, False, "unknown_question", ""))
            continue
        ans, res = next(graded)
        out.append((rid, qid, ans, res.is_correct, res.reason.value, versions[q.task]))
    cols = ("rollout_id", "question_id", "extracted_answer", "is_correct", "reason", "grader")
    return pl.DataFrame(out, schema={c: GRADES[c] for c in cols}, orient="row").select(list(GRADES))


def current_grader_ids(tasks) -> dict[str, str]:
    """task name -> the grader id its rows get today (task name + grader version)."""
    out = {}
    for t in tasks:
        task = get_task(t)
        out[t] = getattr(task, "grader_version", task.name)
    return out


def graded_by_older_grader(run: RunDir) -> bool:
    """True when some grade row carries a grader id other than its task's current one (a grader bump since):
    `sf run` then grades again, and the build after it (which reads grades) rebuilds."""
    if not run.has("grades") or not run.has("questions"):
        return False
    from sfdata.tasks import task_names

    grades = pl.scan_parquet(run.files("grades")).select("question_id", "grader").unique()
    tasks = pl.scan_parquet(run.files("questions")).select("question_id", "task")
    pairs = grades.join(tasks, on="question_id").select("task", "grader").unique().collect().rows()
    known = set(task_names())
    now = current_grader_ids({t for t, _ in pairs if t in known})
    return any(t in now and g != now[t] for t, g in pairs)


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
