"""Held-out questions: eval and RL questions drawn disjoint from the questions a model was trained on.

Why: a different seed is not enough. With few distinct questions (1-digit multiplication has 45
unordered pairs) a fresh draw repeats training items, and `4 * 3` vs `3 * 4` is the same item to a
model. Each task's `question_key` is order-free (Countdown: sorted numbers + target; multiplication:
sorted factors; word tasks: the word/letter set); tasks without one fall back to the question id.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sfdata.tasks import Question, Task, get_task

Keys = dict[str, set[str]]  # task name -> keys of questions to keep out


def question_key(task: Task, question: Question) -> str:
    key = getattr(task, "question_key", None)
    return key(question) if key is not None else question.question_id


def keys_of(questions: Iterable[Question]) -> Keys:
    out: Keys = defaultdict(set)
    for q in questions:
        out[q.task].add(question_key(get_task(q.task), q))
    return out


def merge(*many: Keys) -> Keys:
    out: Keys = defaultdict(set)
    for keys in many:
        for task, ks in keys.items():
            out[task] |= set(ks)
    return out


def run_keys(run_dir: str | Path) -> Keys:
    """Keys of a run's `questions` table (what its rollouts, traces and SFT data came from)."""
    from sfdata.store import RunDir

    path = Path(run_dir)
    if not (path / "manifest.json").is_file():
        return {}
    qdf = RunDir(path).read("questions")
    return keys_of(Question.from_row(r) for r in qdf.iter_rows(named=True))


def trained_keys(model: str | None, depth: int = 0) -> Keys:
    """Keys of what a local model was trained on, from the `sf_summary.json` our SFT/RL write: its SFT
    data run's questions, its RL questions, and (recursively) those of the model it started from."""
    if not model or depth > 8:
        return {}
    summary = Path(model) / "sf_summary.json"
    if not summary.is_file():
        return {}
    info = json.loads(summary.read_text(encoding="utf-8"))
    cfg = info.get("config") or {}
    keys = [{t: set(ks) for t, ks in (info.get("question_keys") or {}).items()}]
    if cfg.get("data"):
        keys.append(run_keys(cfg["data"]))
    keys.append(trained_keys(cfg.get("model"), depth + 1))
    return merge(*keys)


@dataclass
class Drawn:
    questions: list[Question]
    overlap_removed: int  # candidates dropped because they match a training question
    duplicates_removed: int  # candidates dropped because an earlier pick had the same key


def draw_held_out(
    task: Task, n: int, seed: int, level: int | None, exclude: Keys, split: str = "test", **options
) -> Drawn:
    """The first `n` questions of `task.generate(..., seed)` whose key is neither excluded nor already picked.

    Generators are sequential under a seed (a longer draw starts with the shorter one), so widening the
    draw never changes which questions are picked, only how far down the list we read.
    """
    banned = exclude.get(task.name, set())
    want = n
    while True:
        try:
            cands = task.generate(want, seed, level=level, split=split, **options)
            exhausted = False
        except ValueError:  # the generator has no more distinct questions at this level
            cands, exhausted = _largest_draw(task, want, seed, level, split, options)
        picked, seen, overlap, dups = [], set(), 0, 0
        for q in cands:
            k = question_key(task, q)
            if k in banned:
                overlap += 1
            elif k in seen:
                dups += 1
            else:
                seen.add(k)
                picked.append(q)
                if len(picked) == n:
                    return Drawn(picked, overlap, dups)
        if exhausted:
            where = f"{task.name}" + (f":{level}" if level is not None else "")
            raise ValueError(
                f"{where}: only {len(picked)} questions are left after removing {overlap} that overlap training "
                f"questions and {dups} duplicates; ask for at most {len(picked)}"
            )
        want *= 2


def _largest_draw(task: Task, want: int, seed: int, level, split, options) -> tuple[list[Question], bool]:
    lo, hi = 0, want  # binary search for the longest draw the generator can make
    best: list[Question] = []
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            best = task.generate(mid, seed, level=level, split=split, **options)
            lo = mid
        except ValueError:
            hi = mid - 1
    if len(best) != lo:
        best = task.generate(lo, seed, level=level, split=split, **options) if lo else []
    return best, True
