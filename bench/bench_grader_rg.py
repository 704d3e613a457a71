"""Our Countdown grader vs reasoning-gym's Countdown scorer, on the same well-formed answers.

reasoning-gym is a bench-only dependency (never imported by the package): `pip install reasoning-gym`.
Its `CountdownDataset.score_answer` parses with sympy's `parse_expr` (which evaluates code), so only
well-formed arithmetic answers are fed to it, never the hostile corpus of bench_grader.py.

Questions: our Countdown generator, 3-6 numbers (reasoning-gym's generator takes ~40 ms per question
here, too slow for 10k); each is handed to reasoning-gym in its own entry shape
(`{"metadata": {"numbers", "target"}}`, all its scorer reads). Answers: the witness, the witness with
one operator changed, all numbers added, a reordered sum, and the witness with `= target`; every
answer string is distinct, so no cache can win. One process each (ours: `grade_countdown` in a loop).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from _common import report

from sfdata.tasks.countdown import Countdown, grade_countdown


def corpus(n_questions: int) -> list[tuple[str, list[int], int]]:
    per = n_questions // 4
    qs = [q for level in (3, 4, 5, 6) for q in Countdown().generate(per, 7, level=level)]
    out, seen = [], set()
    for q in qs:
        nums, target, w = q.data["numbers"], q.data["target"], q.data["witness"]
        swap = w.replace("+", "*", 1) if "+" in w else w.replace("*", "+", 1) if "*" in w else w.replace("-", "+", 1)
        for a in (w, swap, " + ".join(map(str, nums)), " + ".join(map(str, reversed(nums))), f"{w} = {target}"):
            if a not in seen:
                seen.add(a)
                out.append((a, nums, target))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--questions", type=int, default=10_000)
    args = ap.parse_args()
    try:
        from reasoning_gym.games.countdown import CountdownConfig, CountdownDataset
    except ImportError:
        print("bench_grader_rg: reasoning-gym is not installed (pip install reasoning-gym); skipped")
        print('{"bench": "grader_vs_reasoning_gym", "skipped": "reasoning-gym not installed"}')
        return
    nq = 1_000 if args.quick else args.questions
    data = corpus(nq)
    rg = CountdownDataset(CountdownConfig(size=1, seed=0))  # only its scorer is used
    entries = [{"metadata": {"numbers": nums, "target": t}} for _, nums, t in data]
    t0 = time.perf_counter()
    ours = [grade_countdown(a, nums, t) for a, nums, t in data]
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = [rg.score_answer(a, e) == 1.0 for (a, _, _), e in zip(data, entries)]
    t_rg = time.perf_counter() - t0
    disagree = Counter(
        (r.reason.value, "rg=correct" if th else "rg=wrong") for r, th in zip(ours, theirs) if r.is_correct != th
    )
    report(
        "grader_vs_reasoning_gym",
        len(data) / t_ours,
        len(data) / t_rg,
        "answers/s",
        f"{len(data):,} distinct well-formed answers to {nq:,} Countdown questions (3-6 numbers); baseline = "
        "reasoning-gym CountdownDataset.score_answer (sympy), one process each; disagreements: "
        + (", ".join(f"{n} ours {k[0]} / {k[1]}" for k, n in disagree.most_common()) or "none"),
        answers=len(data),
        correct_ours=sum(r.is_correct for r in ours),
        correct_rg=sum(theirs),
        disagreements={f"{k[0]}|{k[1]}": n for k, n in disagree.items()},
    )


if __name__ == "__main__":
    main()
