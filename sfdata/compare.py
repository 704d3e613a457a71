"""Paired differences between eval cells on the same questions (arm vs base arm, arm vs rl_only, forced vs plain).

A cell is (arm, model, stage, prompt_setup, task, level, budget_rounds); a question's score is the mean of its
samples, and the difference is `sfdata.stats.paired_bootstrap_diff` over the questions both cells scored.
"""

from __future__ import annotations

import polars as pl

from sfdata.stats import paired_bootstrap_diff

CELL = ("arm", "model", "stage", "prompt_setup", "task", "level", "budget_rounds")
PAIRED_ON = ("prompt_setup", "task", "level")
STAGE_RANK = {"base": 0, "sft": 1, "rl": 2}


def question_scores(ev: pl.DataFrame) -> pl.DataFrame:
    """One row per cell x question: `score` = share of its samples answered correctly."""
    return ev.group_by(*CELL, "question_id").agg(pl.col("is_correct").cast(pl.Float64).mean().alias("score"))


def paired_vs(
    scores: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame,
    resamples: int = 10_000,
    seed: int = 0,
) -> pl.DataFrame:
    """For each cell of `left` (rows of `scores`' cells), the paired difference to the `right` cell with the same
    prompt, task and level, on the questions both hold: columns CELL + diff, diff_lo, diff_hi, n_paired."""
    out: list[dict] = []
    for key, g in left.group_by(*CELL, maintain_order=True):
        cell = dict(zip(CELL, key))
        ref = right.filter(*[pl.col(c).eq_missing(cell[c]) for c in PAIRED_ON])
        both = g.select("question_id", pl.col("score").alias("a")).join(
            ref.select("question_id", pl.col("score").alias("b")), on="question_id"
        )
        if both.height == 0:
            continue
        d, lo, hi = paired_bootstrap_diff(both["a"].to_numpy(), both["b"].to_numpy(), resamples, seed)
        out.append({**cell, "diff": d, "diff_lo": lo, "diff_hi": hi, "n_paired": both.height})
    schema = {c: scores.schema[c] for c in CELL} | {
        "diff": pl.Float64,
        "diff_lo": pl.Float64,
        "diff_hi": pl.Float64,
        "n_paired": pl.Int64,
    }
    return pl.DataFrame(out, schema=schema)


def last_stage(scores: pl.DataFrame, arm: str) -> pl.DataFrame:
    """The reference cells of `arm`: its plain rows of the stage it ended with (the base model for `base`,
    the GRPO model for `rl_only`): base < sft < rl < any other step name."""
    mine = scores.filter((pl.col("arm") == arm) & (pl.col("budget_rounds") == 0))
    if mine.height == 0:
        return mine
    stages = sorted(mine["stage"].unique().to_list(), key=lambda s: (STAGE_RANK.get(s, len(STAGE_RANK)), s))
    return mine.filter(pl.col("stage") == stages[-1])
