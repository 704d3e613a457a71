"""Skill use through RL: one `rl_log` row per GRPO logging step, from the completions GRPO sampled.

The paper asks which skills RL keeps. TRL logs reward and length but not what the completions
do, so a thin wrapper around the correctness reward keeps the texts the reward function already
sees (no second generation pass) and a `TrainerCallback` turns them, at each logging step, into
reward mean, accuracy, completion length and the skill detector's counts, appended atomically to
the run's `rl_log` table (rows keyed by arm + step). Under `accelerate launch` each process scores its
own share of completions: every logging step gathers all shares, and process 0 alone writes the row.
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


def skill_rates(texts: list[str]) -> dict[str, float | None]:
    """Per-completion skill use averaged over `texts` (the same detector as traces and eval)."""
    from sfdata.skills import detect

    keys = (
        "samples_per_answer",
        "verification_rate",
        "retry_rate",
        "backtrack_rate",
        "confirm_rate",
        "cue_rate",
        "malformed_rate",
    )
    if not texts:
        return dict.fromkeys(keys)
    cs = [detect(t) for t in texts]
    n = len(cs)
    return {
        "samples_per_answer": sum(c.n_samples for c in cs) / n,
        "verification_rate": sum(c.n_verdicts > 0 or c.cue_verify > 0 for c in cs) / n,
        "retry_rate": sum(c.n_retries > 0 for c in cs) / n,
        "backtrack_rate": sum(c.n_backtracks > 0 for c in cs) / n,
        "confirm_rate": sum(c.n_confirms > 0 for c in cs) / n,
        "cue_rate": sum(c.cue_wait + c.cue_verify + c.cue_alternatively + c.cue_check > 0 for c in cs) / n,
        "malformed_rate": sum(c.malformed for c in cs) / n,
    }


@dataclass
class RLSkillLog:
    """Collects what the reward function sees; `callback()` writes one row per logging step."""

    run: RunDir
    arm: str = ""
    texts: list[str] = field(default_factory=list)
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
            **skill_rates(self.texts),
            "loss": logs.get("loss"),
            "learning_rate": logs.get("learning_rate"),
            "created_at": now_utc(),
        }
        self.texts, self.scores, self.lengths = [], [], []
        return row

    def gather(self) -> None:
        """Every process's completions since the last row, on every process (a collective: all ranks call it).
        One process (no `torch.distributed` group) keeps its own."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        from accelerate.utils import gather_object

        shares = gather_object([(self.texts, self.scores, self.lengths)])
        self.texts = [t for texts, _, _ in shares for t in texts]
        self.scores = [s for _, scores, _ in shares for s in scores]
        self.lengths = [n for _, _, lengths in shares for n in lengths]

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
        """A transformers `TrainerCallback` that writes a row at every logging step from every process's
        completions (gathered on all, written by process 0 only)."""
        from transformers import TrainerCallback

        log = self

        class SkillLogCallback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                log.gather()  # every rank logs at the same steps, so the collective lines up
                if state.is_world_process_zero:
                    log.write(int(state.global_step), dict(logs or {}))
                else:  # other processes drop their share so it never mixes into a later step
                    log.texts, log.scores, log.lengths = [], [], []

        return SkillLogCallback()
