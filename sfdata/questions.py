"""Questions stage: generate task questions into the run's `questions` table (created or extended)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfdata.stagecfg import check_ranges, opt
from sfdata.store import RunDir


@dataclass
class QuestionsConfig:
    task: str = opt("countdown", "task name (sf tasks lists them)")
    n: int = opt(16, "number of questions", min=1)
    level: int | None = opt(None, "difficulty (countdown: count of numbers, 3..6)", min=1)
    seed: int = opt(0, "generator seed")
    split: str = opt("train", "split the questions belong to (train questions never appear in test)")
    options: dict[str, Any] = opt({}, "task options as K=V (countdown: low=1 high=100)")

    def __post_init__(self) -> None:
        check_ranges(self)


def questions_stage(run: RunDir, cfg: QuestionsConfig) -> dict[str, Any]:
    """Reads and writes `questions`: adds `cfg.n` new questions, keeping those already there (ids dedupe)."""
    import polars as pl

    from sfdata.tasks import make_questions

    new = make_questions(cfg.task, cfg.n, cfg.seed, level=cfg.level, split=cfg.split, **(cfg.options or {}))
    old = run.read("questions")
    merged = pl.concat([old, new]).unique("question_id", keep="first", maintain_order=True)
    run.write("questions", merged)
    return {"questions": merged.height, "added": merged.height - old.height}
