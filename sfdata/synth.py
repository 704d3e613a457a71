"""Synthetic but realistic runs for tests and benches: real Countdown questions, responses whose answers are
the witness (correct) or a perturbed expression (wrong), graded by the real grader, and
reflections whose verdicts are right or wrong with known rates."""

from __future__ import annotations

import random
from pathlib import Path

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
