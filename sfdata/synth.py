"""Synthetic but realistic runs for tests and benches: real Countdown questions, responses whose answers are
the witness (correct) or a perturbed expression (wrong), graded by the real grader, and
reflections whose verdicts are right or wrong with known rates."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import polars as pl

from sfdata.grade import grade_stage
from sfdata.prompts import DEFAULT_VARIANTS
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.tasks import Question, make_questions


def make_run(
    path: str | Path,
    n_questions: int = 6,
    variants=DEFAULT_VARIANTS,
    n: int = 3,
    k: int = 2,
    p_correct: float = 0.4,
    p_right_verdict: float = 0.8,
    seed: int = 0,
    level: int = 3,
) -> RunDir:
    rng = random.Random(seed)
    run = RunDir(path).init({"synthetic": True, "seed": seed})
    qdf = make_questions("countdown", n_questions, seed, level=level)
    run.write("questions", qdf)
    now = now_utc()
    rollouts, refls = [], []
    for row in qdf.iter_rows(named=True):
        q = Question.from_row(row)
        for v in variants:
            for s in range(n):
                good = rng.random() < p_correct
                expr = q.data["witness"] if good else q.data["witness"].replace("+", "-", 1).replace("*", "+", 1)
                if not good and expr == q.data["witness"]:
                    expr = expr + " + 1"
                resp = f"Let me try {v} #{s}. I combine the numbers: {expr}.\n<answer>{expr}</answer>"
                rid = stable_id(q.question_id, v, s, "synthetic")
                rollouts.append(
                    {
                        "rollout_id": rid,
                        "question_id": q.question_id,
                        "task": "countdown",
                        "variant": v,
                        "sample_idx": s,
                        "prompt": q.question,
                        "response": resp,
                        "model": "synthetic",
                        "engine": "none",
                        "temperature": 0.7,
                        "top_p": 1.0,
                        "max_tokens": 64,
                        "seed": seed,
                        "prompt_tokens": 10,
                        "completion_tokens": 20,
                        "finish_reason": "stop",
                        "latency_s": 0.0,
                        "created_at": now,
                    }
                )
                for j in range(k):
                    right = rng.random() < p_right_verdict
                    says_correct = good if right else not good
                    verdict = "Correct" if says_correct else "Incorrect"
                    text = f"Checking {expr}: the steps are {'fine' if says_correct else 'wrong'}.\n<verdict>{verdict}</verdict>"
                    refls.append(
                        {
                            "reflection_id": stable_id(rid, j),
                            "rollout_id": rid,
                            "question_id": q.question_id,
                            "reflection_idx": j,
                            "prompt": "verify",
                            "text": text,
                            "verdict": verdict,
                            "rollout_is_correct": good,
                            "is_valid": right,
                            "model": "synthetic",
                            "temperature": 0.7,
                            "seed": seed,
                            "completion_tokens": 15,
                            "latency_s": 0.0,
                            "created_at": now,
                        }
                    )
    run.append("rollouts", pl.DataFrame(rollouts))
    run.append("reflections", pl.DataFrame(refls))
    grade_stage(run)
    return run


def eval_row(**overrides: Any) -> dict[str, Any]:
    """One row of the `eval` table (schemas._EVAL) with plain defaults: a base-model countdown level-3 output,
    graded correct. `overrides` replace columns (an unknown column is an error); `model` defaults to
    `models/{arm}/{stage}` and `eval_id` to a stable hash of arm, stage, model, question, sample and budget."""
    from sfdata.store.schemas import schema_of

    row: dict[str, Any] = {
        "eval_id": None,
        "arm": "base",
        "model": None,
        "stage": "base",
        "task": "countdown",
        "level": 3,
        "question_id": "q0",
        "sample_idx": 0,
        "budget_rounds": 0,
        "prompt_setup": "original, 0-shot",
        "grader": "",
        "answer": None,
        "data": None,
        "prompt": "p",
        "response": "<answer>1</answer>",
        "extracted_answer": "1",
        "is_correct": True,
        "reason": "x",
        "completion_tokens": 10,
        "created_at": None,
    }
    unknown = set(overrides) - set(schema_of("eval"))
    if unknown:
        raise KeyError(f"not columns of eval: {sorted(unknown)}")
    row.update(overrides)
    if row["model"] is None:
        row["model"] = f"models/{row['arm']}/{row['stage']}"
    if row["eval_id"] is None:
        keys = ("arm", "stage", "model", "question_id", "sample_idx", "budget_rounds")
        row["eval_id"] = stable_id(*(row[k] for k in keys))
    if row["created_at"] is None:
        row["created_at"] = now_utc()
    return row
