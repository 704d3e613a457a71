"""Skill use through RL: one `rl_log` row per GRPO logging step, from the completions GRPO sampled.

The paper asks which skills RL keeps. TRL logs reward and length but not what the completions
do, so a thin wrapper around the correctness reward keeps the texts the reward function already
sees (no second generation pass) and a `TrainerCallback` turns them, at each logging step, into
reward mean, accuracy, completion length and the skill detector's counts, appended atomically to
the run's `rl_log` table (rows keyed by arm + step). On several GPUs each process sees its own
share of completions; the row is written by process 0 from its share.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sfdata.store import RunDir, stable_id

ACCURACY_REWARD = "correctness_reward"  # the reward whose score > 0 means a correct answer


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}]
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def skill_rates(texts: list[str], questions: list | None = None) -> dict[str, float | None]:
    """`sfdata.skill_metrics.STEP_METRICS` over `texts` (the same detector and definitions as traces and eval);
    with `questions` (aligned with `texts`, from the reward's task/data/answer) every verdict is checked."""
    from sfdata import skill_metrics
    from sfdata.skills import skills_frame

    qs = list(questions) if questions is not None and len(questions) == len(texts) else [None] * len(texts)
    by_id = {q.question_id: q for q in qs if q is not None}
    rows = [(str(i), t, q.question_id if q is not None else None) for i, (t, q) in enumerate(zip(texts, qs))]
    return skill_metrics.aggregate(skills_frame(rows, "rl", by_id))


def _questions(n: int, kwargs: dict[str, Any]) -> list[Any]:
    """The question of each completion from the reward's dataset columns (task, data, answer), else None."""
    from sftrain.rewards import _question

    task, data, answer = kwargs.get("task"), kwargs.get("data"), kwargs.get("answer")
    if task is None or data is None or answer is None or not len(task) == len(data) == len(answer) == n:
        return [None] * n
    return [_question(t, d, a) for t, d, a in zip(task, data, answer)]


@dataclass
class RLSkillLog:
    """Collects what the reward function sees; `callback()` writes one row per logging step."""

    run: RunDir
    arm: str = ""
    texts: list[str] = field(default_factory=list)
    questions: list[Any] = field(default_factory=list)  # aligned with texts (None where the reward had no question)
    scores: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    rows_written: int = 0

    def wrap(self, reward_funcs: list[Callable]) -> list[Callable]:
        """The same reward functions, the correctness one (else the first) recording its inputs."""
        names = [getattr(f, "__name__", "") for f in reward_funcs]
        at = names.index(ACCURACY_REWARD) if ACCURACY_REWARD in names else 0
        out = list(reward_funcs)
        if out:
            out[at] = self._recording(out[at])
        return out

    def _recording(self, fn: Callable) -> Callable:
        @functools.wraps(fn)  # keeps __name__: TRL names the logged reward columns after it
        def reward(completions: list, *args: Any, **kwargs: Any) -> list:
            scores = fn(completions, *args, **kwargs)
            self.texts += [_text(c) for c in completions]
            self.questions += _questions(len(completions), kwargs)
            self.scores += [float(s) if s is not None else math.nan for s in scores]
            ids = kwargs.get("completion_ids")
            self.lengths += [len(x) for x in ids] if ids is not None else []
            return scores

        return reward

    def row(self, step: int, logs: dict[str, Any]) -> dict[str, Any] | None:
        """The `rl_log` row for completions gathered since the last row (None when there are none)."""
        from sfdata.store.run import now_utc

        if not self.texts:
            return None
        scored = [s for s in self.scores if not math.isnan(s)]
        tokens = logs.get("completions/mean_length")
        if tokens is None and self.lengths:
            tokens = sum(self.lengths) / len(self.lengths)
        row = {
            "log_id": stable_id("rl_log", self.arm, step),
            "arm": self.arm,
            "step": step,
            "completions": len(self.texts),
            "reward_mean": logs.get("reward", sum(scored) / len(scored) if scored else None),
            "reward_std": logs.get("reward_std"),
            "accuracy": sum(s > 0 for s in scored) / len(scored) if scored else None,
            "completion_tokens": tokens,
            **skill_rates(self.texts, self.questions),
            "loss": logs.get("loss"),
            "learning_rate": logs.get("learning_rate"),
            "created_at": now_utc(),
        }
        self.texts, self.scores, self.lengths, self.questions = [], [], [], []
        return row

    def write(self, step: int, logs: dict[str, Any]) -> bool:
        row = self.row(step, logs)
        if row is None:
            return False
        have = self.run.ids("rl_log")
        if row["log_id"] in have:  # a resumed arm re-logging a step it already wrote
            return False
        self.run.append("rl_log", pl.DataFrame([row]))
        self.rows_written += 1
        return True

    def callback(self):
        """A transformers `TrainerCallback` that writes a row at every logging step (process 0 only)."""
        from transformers import TrainerCallback

        log = self

        class SkillLogCallback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if state.is_world_process_zero:
                    log.write(int(state.global_step), dict(logs or {}))
                else:  # other processes drop their share so it never mixes into a later step
                    log.texts, log.scores, log.lengths, log.questions = [], [], [], []

        return SkillLogCallback()
