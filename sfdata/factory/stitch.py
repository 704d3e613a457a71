"""A trace's text and per-trace columns from its picked steps: one concat_str per trace, no Python per trace.

Steps are sorted by trace; ids and counts are one group_by over those contiguous rows, and the text is one
concat_str per trace over each step's parts gathered by position (tags ride with their neighbours), so each
trace's text is copied once. The layout is the grammar's (`sfdata.grammar`: tags and separators).
"""

from __future__ import annotations

from typing import cast

import polars as pl

from sfdata import grammar as g
from sfdata.factory import phrases
from sfdata.factory.passes import QIDX, PassContext, seeded_hash, sort_small
from sfdata.factory.registry import get_format

NL = g.PART_SEP  # every part of a trace is joined by the grammar's separator


def phrase(idx: pl.Expr, items: list[str]) -> pl.Expr:
    """items[idx] (a gather from the list: no hashing per row)."""
    return pl.lit(pl.Series(items, dtype=pl.String)).gather(idx.cast(pl.Int64))


# one step's parts, joined by newlines (null ones left out): the response; "</sample>" (and "<reflect>" when
# a reflection follows); the reflection; then "</reflect>" and/or the glue phrase and the next "<sample>".
# Literal tags ride along with their neighbours: concat_str's cost grows with the number of parts.
PIECES = ("resp", "mid", "rtext", "after")


def trace_steps(steps: pl.DataFrame, samples: pl.DataFrame, refls: pl.DataFrame, ctx: PassContext) -> pl.DataFrame:
    """Steps in trace order, joined to their sample, with the chosen reflection, glue and the step's text
    parts (`PIECES`: null parts are left out), so each trace's text is written in one concat_str."""
    steps = sort_small(steps, [(QIDX, 32), ("k", 16), ("step", 16)])
    st = pl.concat([steps, samples[steps["pos"]]], how="horizontal")
    tk = (pl.col(QIDX).cast(pl.UInt64) * 65536) + pl.col("k").cast(pl.UInt64)  # one trace; k < 2^16
    st = st.with_columns(tk.alias("tk"))
    last = (pl.col("tk") != pl.col("tk").shift(-1)).fill_null(True)
    with_refl = ctx.with_refl  # False for formats without reflections and the no_reflections ablation
    if with_refl:
        pick = seeded_hash(pl.struct("rollout_id", "k"), ctx, "reflection") % pl.col("n_refl").clip(1).cast(pl.UInt64)
        ridx = pl.when(pl.col("n_refl") > 0).then(pl.col("refl_start") + pick.cast(pl.Int64))
        at = st.select(ridx.alias("ridx"))["ridx"]
        got = refls.select("reflection_id", "text")[at.fill_null(0)]
        got = got.with_columns(pl.when(at.is_not_null()).then(pl.col(c)).alias(c) for c in ("reflection_id", "text"))
        st = pl.concat([st, got], how="horizontal")
    else:
        st = st.with_columns(pl.lit(None, pl.String).alias("reflection_id"), pl.lit(None, pl.String).alias("text"))
    st = st.with_columns(
        seeded_hash(pl.struct("rollout_id", "k", "step"), ctx, "glue").alias("g")
    )  # read by every branch below
    has_refl = pl.col("text").is_not_null()

    # "</reflect>" and/or the glue phrase (with reflections: retry after Incorrect, double-check after Correct;
    # without: the verdict-neutral pool) and the next "<sample>": one gather from the phrase lists laid end to end
    after_correct, after_incorrect, _, _ = phrases.glue_pools(with_refl)
    kinds = [(r, items) for r in (g.REFLECT_CLOSE + NL, "") for items in (after_correct, after_incorrect)]
    table = [f"{r}{p}{NL}{g.SAMPLE_OPEN}" for r, items in kinds for p in items]
    starts = [sum(len(items) for _, items in kinds[:i]) for i in range(len(kinds))]
    kind = pl.when(has_refl).then(0).otherwise(2) + pl.when(pl.col("is_correct")).then(0).otherwise(1)
    sizes = [len(items) for _, items in kinds]
    idx = pl.lit(pl.Series(starts)).gather(kind) + (
        pl.col("g") % pl.lit(pl.Series(sizes, dtype=pl.UInt64)).gather(kind)
    ).cast(pl.Int64)
    after = pl.when(~last).then(phrase(idx, table)).when(has_refl).then(pl.lit(g.REFLECT_CLOSE))
    return st.with_columns(
        pl.col("response").alias("resp"),  # stripped by samples_by_question, like the reflection texts
        pl.when(has_refl)
        .then(pl.lit(g.SAMPLE_CLOSE + NL + g.REFLECT_OPEN))
        .otherwise(pl.lit(g.SAMPLE_CLOSE))
        .alias("mid"),
        pl.col("text").alias("rtext"),
        after.alias("after"),
        last.alias("last"),
    )


def per_trace_columns(st: pl.DataFrame, tail: bool = False) -> pl.DataFrame:
    """Ids listed and counts summed per trace (steps are sorted by trace, so the group_by is cheap), and
    every step's text parts as columns (`resp0`, `mid0`, ... of step 0; null past a trace's last step),
    gathered by position so `trace_rows` copies each trace's text once. `tail`: the final sample's ids are
    listed once more at the end (*C*IC's backtrack), as extra rows after all steps (a group keeps row order)."""
    ids = st.select(
        "tk",
        pl.int_range(pl.len(), dtype=pl.Int64).alias("i"),
        "rollout_id",
        pl.col("reflection_id").fill_null(""),
        "variant",
        "is_correct",
        "last",
        pl.lit(False).alias("tail"),
    )
    if tail:
        again = ids.filter(st["is_final"]).with_columns(
            pl.lit("").alias("reflection_id"), pl.lit(False).alias("is_correct"), pl.lit(True).alias("tail")
        )
        ids = pl.concat([ids, again])
    agg = ids.group_by("tk", maintain_order=True).agg(
        pl.col("i").first().alias("start"),
        (~pl.col("tail")).sum().cast(pl.Int32).alias("n_samples"),
        pl.col("rollout_id").alias("rollout_ids"),
        pl.col("reflection_id").alias("reflection_ids"),
        pl.col("variant").alias("variants"),
        pl.col("is_correct").sum().cast(pl.Int32).alias("n_correct"),
        (~pl.col("is_correct") & ~pl.col("last") & ~pl.col("tail")).sum().cast(pl.Int32).alias("n_retries"),
    )
    longest = cast(int, agg["n_samples"].max() or 0)  # an Int32 column: max is an int or None
    src = st.select(PIECES)
    start, size = agg["start"], agg["n_samples"]
    wide = []
    for j in range(longest):
        at = pl.select(pl.when(size > j).then(start + j)).to_series()  # null index -> null row
        wide.append(src[at].rename({c: f"{c}{j}" for c in PIECES}))
    return pl.concat([agg.drop("tk", "start"), *wide], how="horizontal")


def trace_rows(st: pl.DataFrame, ctx: PassContext) -> pl.DataFrame:
    """One row per trace: ids, counts, final answer, then the whole message in one concat_str."""
    shape = get_format(ctx.fmt).shape
    agg = per_trace_columns(st, tail=shape == "backtrack")
    fin = st.filter(pl.col("is_final")).select(  # exactly one per trace, in the same order
        QIDX,
        "k",
        "question_id",
        pl.col("extracted_answer").alias("final_answer"),
        "is_correct",
        pl.col("resp").alias("final_response"),
    )
    agg = pl.concat([fin, agg], how="horizontal").with_columns(
        (pl.col("n_samples") - pl.col("n_correct")).alias("n_incorrect")
    )
    th = seeded_hash(pl.col("question_id"), ctx, "trace") + pl.col("k").cast(pl.UInt64)
    agg = agg.with_columns(th.hash(seed=ctx.seed_for("trace2")).alias("th"))  # read twice below
    th = pl.col("th")
    parts = [c for c in agg.columns if c.rstrip("0123456789") in PIECES and c[-1].isdigit()]
    tail: list[pl.Expr] = []
    n_back, n_conf, close = 0, 0, ""
    _, _, backtrack, confirm = phrases.glue_pools(ctx.with_refl)
    if shape == "two_correct":
        tail, n_conf = [phrase((th // 256) % len(confirm), confirm)], 1
    if shape == "backtrack":
        back = phrase((th // 256) % len(backtrack), [f"{b}{NL}{g.SAMPLE_OPEN}" for b in backtrack])
        tail, close = [back, pl.col("final_response")], g.SAMPLE_CLOSE + NL
        n_back = 1  # (its ids are listed again by per_trace_columns)
    # the ending phrase carries the tags around it (fewer parts for concat_str)
    ending = phrase(
        th % len(phrases.ENDING),
        [f"{close}{g.THINK_CLOSE}{g.ENDING_SEP}{e}{g.ENDING_SEP}{g.ANSWER_OPEN}" for e in phrases.ENDING],
    )
    if shape == "raw_correct":
        text = pl.col("final_response")
    else:  # formats.render's layout, every part joined by one newline (null parts: steps a trace lacks)
        head = [pl.lit(g.THINK_OPEN + NL + g.SAMPLE_OPEN), *map(pl.col, parts), *tail, ending]
        text = pl.concat_str([*head, pl.col("final_answer"), pl.lit(g.ANSWER_CLOSE)], separator=NL, ignore_nulls=True)
    return agg.with_columns(
        text.alias("trace"),
        pl.lit(n_back, pl.Int32).alias("n_backtracks"),
        pl.lit(n_conf, pl.Int32).alias("n_confirms"),
    ).drop(*parts, "th")
