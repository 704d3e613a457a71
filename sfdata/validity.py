"""Whether a reflection is valid: its verdict agrees with the CURRENT grade of the rollout it checks.

The reflections table stores `rollout_is_correct` and `is_valid` as of reflect time; a regrade (a grader
bump, an import) can change the grade afterwards. Every reader that uses validity (the build, the
verdict_confusion query, `sf reflect`'s summary) derives it here from the verdict and the grades table,
so an old flag never mixes with a new grade.
"""

from __future__ import annotations

import polars as pl

#: SQL form (DuckDB), for named queries joining `reflections r` to `grades g` on rollout_id
VALID_SQL = "coalesce(r.verdict = CASE WHEN g.is_correct THEN 'Correct' ELSE 'Incorrect' END, false)"


def is_valid_expr(verdict: str = "verdict", grade: str = "is_correct") -> pl.Expr:
    """True where the verdict states the grade; False without a verdict or without a grade."""
    states = pl.when(pl.col(grade)).then(pl.lit("Correct")).otherwise(pl.lit("Incorrect"))
    return (pl.col(grade).is_not_null() & (pl.col(verdict) == states)).fill_null(False)


def with_current_grades(reflections: pl.DataFrame, grades: pl.DataFrame) -> pl.DataFrame:
    """`reflections` with `rollout_is_correct` and `is_valid` from `grades`; where a rollout has no grade row the
    grade stored at reflect time stands (as in the verdict_confusion query)."""
    g = grades.select("rollout_id", pl.col("is_correct").alias("_grade"))
    out = reflections.join(g, on="rollout_id", how="left", maintain_order="left")
    if "rollout_is_correct" in out.columns:
        out = out.with_columns(pl.coalesce("_grade", "rollout_is_correct").alias("_grade"))
    out = out.drop("rollout_is_correct", "is_valid", strict=False)
    return out.with_columns(
        pl.col("_grade").alias("rollout_is_correct"), is_valid_expr("verdict", "_grade").alias("is_valid")
    ).drop("_grade")
