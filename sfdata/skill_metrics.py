"""Skill metrics, each defined once over `skills` rows: its SQL (named queries, the inspector) and its Polars
aggregation (rl_log steps, eval summaries) are both rendered from the one definition here.

Verdict scoring treats each verdict as a classifier of the sample it follows (the skills table's per-row
true/false positive/negative counts, Correct = positive): precision / recall / F1 for the Correct class and,
with the roles swapped, for the Incorrect class. `tagged_verdict_rate` (a closed `<verdict>`) is kept apart
from `keyword_cue_rate` (untagged "wait", "let me verify", ... written by the model; the project's own glue
phrases are masked before counting, `sfdata.skills`).

No Polars at import time: `sf query` renders the SQL without it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

#: the untagged cue columns of the skills table (sfdata.grammar.CUES)
CUE_COLUMNS = ("cue_wait", "cue_verify", "cue_alternatively", "cue_check")
TP, FP, TN, FN = "n_verdict_tp", "n_verdict_fp", "n_verdict_tn", "n_verdict_fn"
_BOOL_COLUMNS = frozenset({"malformed", "final_matches_last"})


@dataclass(frozen=True)
class SkillMetric:
    """One metric over skills rows.

    kind `share`: mean over rows of (sum of `num` columns > 0), or of a bool column;
    kind `mean`: mean over rows of the sum of `num` columns;
    kind `ratio`: sum over rows of `num` / sum over rows of `den` (null when the denominator is 0 or unknown).
    A column listed twice counts twice (F1's 2 x TP).
    """

    name: str
    description: str
    kind: str
    num: tuple[str, ...]
    den: tuple[str, ...] = ()

    def sql(self, alias: str = "s") -> str:
        """The aggregate expression (DuckDB) over a skills relation named `alias`."""
        num = _sum_sql(self.num, alias)
        if self.kind == "share":
            col = self.num[0]
            if len(self.num) == 1 and col in _BOOL_COLUMNS:
                return f"avg({_qual(col, alias)}::INT)"
            return f"avg(({num} > 0)::INT)"
        if self.kind == "mean":
            return f"avg({num})"
        return f"sum({num}) / nullif(sum({_sum_sql(self.den, alias)}), 0)"

    def row_sql(self, alias: str = "s") -> str:
        """A ratio metric for one row (one trace's verdict accuracy, say)."""
        if self.kind != "ratio":
            raise ValueError(f"{self.name} is a {self.kind}, not a ratio: it has no per-row form")
        return f"({_sum_sql(self.num, alias)}) / nullif({_sum_sql(self.den, alias)}, 0)"

    def expr(self) -> Any:
        """The same aggregation as a Polars expression (for `group_by(...).agg`), named after the metric."""
        import polars as pl

        num = _sum_pl(self.num)
        if self.kind == "share":
            if len(self.num) == 1 and self.num[0] in _BOOL_COLUMNS:
                out = pl.col(self.num[0]).cast(pl.Float64).mean()
            else:
                out = (num > 0).cast(pl.Float64).mean()
        elif self.kind == "mean":
            out = num.cast(pl.Float64).mean()
        else:
            n, d = num.sum().cast(pl.Float64), _sum_pl(self.den).sum().cast(pl.Float64)
            out = pl.when(d > 0).then(n / d).otherwise(None)
        return out.alias(self.name)


def _qual(col: str, alias: str) -> str:
    return f"{alias}.{col}" if alias else col


def _sum_sql(cols: tuple[str, ...], alias: str) -> str:
    parts = [f"{k} * {_qual(c, alias)}" if k > 1 else _qual(c, alias) for c, k in Counter(cols).items()]
    return " + ".join(parts)


def _sum_pl(cols: tuple[str, ...]) -> Any:
    import polars as pl

    out = None
    for c, k in Counter(cols).items():
        term = pl.col(c) * k if k > 1 else pl.col(c)
        out = term if out is None else out + term
    return out


def _m(*args: Any) -> SkillMetric:
    return SkillMetric(*args)


METRICS: dict[str, SkillMetric] = {
    m.name: m
    for m in (
        _m("samples_per_answer", "mean <sample> blocks per output", "mean", ("n_samples",)),
        _m("sample_tag_rate", "share of outputs with a <sample> block", "share", ("n_samples",)),
        _m("reflection_rate", "share of outputs with a <reflect> block", "share", ("n_reflections",)),
        _m("tagged_verdict_rate", "share of outputs with at least one closed <verdict>", "share", ("n_verdicts",)),
        _m(
            "keyword_cue_rate",
            "share of outputs with an untagged cue of the model's own (wait / verify / alternatively / check; "
            "the project's glue phrases do not count)",
            "share",
            CUE_COLUMNS,
        ),
        _m("retry_rate", "share with a new sample after an Incorrect verdict", "share", ("n_retries",)),
        _m("backtrack_rate", "share going back to an earlier verified answer", "share", ("n_backtracks",)),
        _m("confirm_rate", "share re-confirming a verified answer", "share", ("n_confirms",)),
        _m("malformed_rate", "share with unbalanced or out-of-order tags", "share", ("malformed",)),
        _m("verdict_accuracy", "checked verdicts that state their sample's grade", "ratio", (TP, TN), (TP, FP, TN, FN)),
        _m("verdict_precision_correct", "Correct verdicts whose sample is correct", "ratio", (TP,), (TP, FP)),
        _m("verdict_recall_correct", "correct samples verdicted Correct", "ratio", (TP,), (TP, FN)),
        _m("verdict_f1_correct", "F1 of the Correct class", "ratio", (TP, TP), (TP, TP, FP, FN)),
        _m("verdict_precision_incorrect", "Incorrect verdicts whose sample is wrong", "ratio", (TN,), (TN, FN)),
        _m("verdict_recall_incorrect", "wrong samples verdicted Incorrect", "ratio", (TN,), (TN, FP)),
        _m("verdict_f1_incorrect", "F1 of the Incorrect class", "ratio", (TN, TN), (TN, TN, FN, FP)),
    )
}

#: the per-output skill metrics rl_log records per GRPO step and eval summaries show per arm and stage
STEP_METRICS = tuple(n for n in METRICS if n != "reflection_rate")
VERDICT_METRICS = tuple(n for n in METRICS if n.startswith("verdict_"))
#: the skill columns of the named queries, in order; each .sql file holds `select_sql(...)` of its tuple verbatim
#: (tests/sfdata/test_skill_metrics.py checks it), so the SQL cannot drift from the definitions above
QUERY_METRICS: dict[str, tuple[str, ...]] = {
    "skill_frequency": (
        "samples_per_answer",
        "reflection_rate",
        "tagged_verdict_rate",
        "keyword_cue_rate",
        "retry_rate",
        "backtrack_rate",
        "confirm_rate",
        "malformed_rate",
        "verdict_accuracy",
    ),
    "skill_by_source": (
        "samples_per_answer",
        "sample_tag_rate",
        "tagged_verdict_rate",
        "keyword_cue_rate",
        "retry_rate",
        *VERDICT_METRICS,
    ),
    "experiment_table": (
        "samples_per_answer",
        "tagged_verdict_rate",
        "keyword_cue_rate",
        "retry_rate",
        "backtrack_rate",
        "verdict_f1_correct",
        "verdict_f1_incorrect",
    ),
}


def get(name: str) -> SkillMetric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown skill metric {name!r}; known: {', '.join(METRICS)}") from None


def select_sql(names: tuple[str, ...] | list[str], alias: str = "s", digits: int = 3) -> str:
    """`round(<metric>, digits) AS name` for each name, comma-separated (what the named queries contain)."""
    return ",\n       ".join(f"round({get(n).sql(alias)}, {digits}) AS {n}" for n in names)


def aggregate(frame: Any, names: tuple[str, ...] | list[str] = STEP_METRICS) -> dict[str, float | None]:
    """The metrics over a whole Polars frame of skills rows (rl_log: one GRPO step's completions)."""
    if frame.height == 0:
        return dict.fromkeys(names)
    return frame.select([get(n).expr() for n in names]).row(0, named=True)
