"""Which samples each trace holds, per format shape, as Polars passes over every question at once.

A picker returns steps (question index, k, sample row `pos`, step, is_final): one row per sample of a trace,
in no particular order; `k` tells a question's traces of one pass apart. The rules are `formats.choose`'s
(the per-question reference the property tests compare against).
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from sfdata.factory.passes import (
    QIDX,
    TRACE_KEY,
    PassContext,
    by_variant,
    dense_table,
    first_picks,
    lookup,
    ranked,
    seeded_hash,
    variant_counts,
)
from sfdata.factory.registry import TRACE_FORMATS, get_format


def _one_trace_ending_correct(cand: pl.DataFrame, n_q_expr: pl.Expr, ctx: PassContext) -> pl.DataFrame:
    """0C, *C: N-1 samples from all usable ones, then a correct one (one trace per question)."""
    steps = _ends_correct(cand, None if get_format(ctx.fmt).shape == "one_correct" else n_q_expr - 1, ctx)
    return reorder_for_ablation(steps.with_columns(pl.lit(0, pl.Int64).alias("k")), ctx)


def _ends_correct(cand: pl.DataFrame, need: pl.Expr | None, ctx: PassContext) -> pl.DataFrame:
    """Steps (QIDX, pos, step, is_final) of traces ending in a correct sample after `need` others (None: none)."""
    final = ranked(cand.filter(pl.col("is_correct")), ctx).filter(pl.col("r") == 0)
    if need is None:
        pre = pl.DataFrame(schema={QIDX: pl.UInt32, "pos": pl.UInt32, "r": pl.Int64})
    else:  # every other usable sample of a draw unit that has a final one (one final per unit: unit -> its row)
        final_pos = lookup(
            dense_table(final.select(QIDX, pl.col("pos").cast(pl.Int64)), QIDX, "pos", ctx.n_q, -1), QIDX
        )
        keep = (final_pos >= 0) & (final_pos != pl.col("pos").cast(pl.Int64))
        pre = first_picks(cand.filter(keep), variant_counts(final), ctx, need)
    length = pre.group_by(QIDX).agg(pl.len().cast(pl.Int64).alias("L"))
    fin = final.select(QIDX, "pos").join(length, on=QIDX, how="left").with_columns(pl.col("L").fill_null(0))
    return pl.concat(
        [
            pre.select(QIDX, "pos", pl.col("r").alias("step"), pl.lit(False).alias("is_final")),
            fin.select(QIDX, "pos", pl.col("L").alias("step"), pl.lit(True).alias("is_final")),
        ],
        how="vertical_relaxed",
    )


def _fresh_per_length(cand: pl.DataFrame, n_q_expr: pl.Expr, ctx: PassContext) -> pl.DataFrame:
    """*C_full, no_reflection (the official construction): one trace per length 1..N, each drawn afresh.

    Trace k (k = 0..min(N, usable) - 1) holds k samples and then a correct one. Each length is its own
    draw unit `QIDX * lengths + k` with its own shuffle key (hash of the pass key and k), so the picks are the
    *C picks of an independent draw; the steps map back to (question, k)."""
    lengths = max(ctx.n_range[1] if ctx.n_range else ctx.n, 1)
    per_q = cand.group_by(QIDX).agg(pl.len().cast(pl.Int64).alias("u"))
    cand = cand.with_columns(n_q_expr.alias("N")).join(per_q, on=QIDX, how="left")
    ks = pl.DataFrame({"k": pl.int_range(0, lengths, dtype=pl.Int64, eager=True)})
    unit = (pl.col(QIDX).cast(pl.UInt64) * lengths + pl.col("k").cast(pl.UInt64)).cast(pl.UInt32)
    draws = (
        cand.join(ks, how="cross")
        .filter(pl.col("k") < pl.min_horizontal("N", "u"))
        .with_columns(
            unit.alias(QIDX),
            seeded_hash(pl.struct("key", "k"), ctx, "length").alias("key"),
        )
    )
    if ctx.unique_variants:
        draws = by_variant(draws)
    sub = replace(ctx, n_q=ctx.n_q * lengths)
    steps = _ends_correct(draws.drop("N", "u"), pl.col("k"), sub)  # trace k: k samples before the correct one
    steps = steps.with_columns(
        (pl.col(QIDX).cast(pl.Int64) // lengths).cast(pl.UInt32).alias(QIDX),
        (pl.col(QIDX).cast(pl.Int64) % lengths).alias("k"),
    )
    return reorder_for_ablation(steps.select(QIDX, "k", "pos", "step", "is_final"), ctx)


def _two_correct(cand: pl.DataFrame, n_q_expr: pl.Expr, ctx: PassContext) -> pl.DataFrame:
    """*CC: N-2 samples, then two correct ones (the last is final)."""
    rc = ranked(cand.filter(pl.col("is_correct")), ctx)
    enough = lookup(
        dense_table(rc.filter(pl.col("r") == 1), QIDX, None, ctx.n_q, False), QIDX
    )  # two correct ones or more
    finals = rc.filter((pl.col("r") < 2) & enough)
    others = cand.filter(enough & ~lookup(dense_table(finals, "pos", None, ctx.n_pos, False), "pos"))
    pre = first_picks(others, variant_counts(finals), ctx, n_q_expr - 2)
    length = pre.group_by(QIDX).agg(pl.len().cast(pl.Int64).alias("L"))
    fin = finals.join(length, on=QIDX, how="left").with_columns(pl.col("L").fill_null(0))
    steps = pl.concat(
        [
            pre.select(QIDX, "pos", pl.col("r").alias("step"), pl.lit(False).alias("is_final")),
            fin.select(QIDX, "pos", (pl.col("L") + pl.col("r")).alias("step"), (pl.col("r") == 1).alias("is_final")),
        ],
        how="vertical_relaxed",
    ).with_columns(pl.lit(0, pl.Int64).alias("k"))
    return reorder_for_ablation(steps, ctx)


def _backtrack(cand: pl.DataFrame, n_q_expr: pl.Expr, ctx: PassContext) -> pl.DataFrame:
    """*C*IC: incorrect ones around one correct one (at least one after it); tail repeats the correct one."""
    good = ranked(cand.filter(pl.col("is_correct")), ctx).filter(pl.col("r") == 0)
    wrong_pool = cand.filter(~pl.col("is_correct") & lookup(dense_table(good, QIDX, None, ctx.n_q, False), QIDX))
    wrong = first_picks(wrong_pool, variant_counts(good), ctx, pl.max_horizontal(n_q_expr - 1, pl.lit(1)))
    w = wrong.group_by(QIDX).agg(pl.len().cast(pl.Int64).alias("W"))
    good = good.join(w, on=QIDX)
    assert ctx.qs is not None  # build_traces always sets the questions
    qh = ctx.qs.select(QIDX, seeded_hash(pl.col("question_id"), ctx, "split").alias("h"))  # per question, by index
    split = (lookup(dense_table(qh, QIDX, "h", ctx.n_q, 0), QIDX) % pl.col("W").cast(pl.UInt64)).cast(pl.Int64)
    good = good.with_columns(split.alias("split"))
    wrong = wrong.with_columns(lookup(dense_table(good, QIDX, "split", ctx.n_q, 0), QIDX).alias("split"))
    return pl.concat(
        [
            wrong.select(
                QIDX,
                "pos",
                pl.when(pl.col("r") < pl.col("split")).then(pl.col("r")).otherwise(pl.col("r") + 1).alias("step"),
                pl.lit(False).alias("is_final"),
            ),
            good.select(QIDX, "pos", pl.col("split").alias("step"), pl.lit(True).alias("is_final")),
        ],
        how="vertical_relaxed",
    ).with_columns(pl.lit(0, pl.Int64).alias("k"))


def _any_samples(cand: pl.DataFrame, n_q_expr: pl.Expr, ctx: PassContext) -> pl.DataFrame:
    """random: N usable samples in pick order; the last one's answer is final."""
    picked = ranked(cand, ctx).filter(pl.col("r") < n_q_expr)  # in (question, r) order
    last = (pl.col(QIDX) != pl.col(QIDX).shift(-1)).fill_null(True)
    return picked.select(QIDX, pl.lit(0, pl.Int64).alias("k"), "pos", pl.col("r").alias("step"), last.alias("is_final"))


def _star_baseline(cand: pl.DataFrame, n_q_expr: pl.Expr, ctx: PassContext) -> pl.DataFrame:
    """STaR baseline: every correct sample of a question (at most `star_per_question` in pick order), one trace
    each (k = its pick rank), any variant."""
    picked = ranked(cand.filter(pl.col("is_correct")), ctx, variants=False)
    if ctx.star_per_question > 0:
        picked = picked.filter(pl.col("r") < ctx.star_per_question)
    return picked.select(
        QIDX, pl.col("r").alias("k"), "pos", pl.lit(0, pl.Int64).alias("step"), pl.lit(True).alias("is_final")
    )


def reorder_for_ablation(steps: pl.DataFrame, ctx: PassContext) -> pl.DataFrame:
    """no_sample_order ablation: the final (last) sample moves to a random earlier position."""
    if ctx.ablation != "no_sample_order":
        return steps
    size = pl.len().over(TRACE_KEY).cast(pl.Int64)
    steps = steps.with_columns(size.alias("size"), pl.lit(ctx.rh).gather(pl.col("pos")).alias("rh"))
    # keyed by the final sample's rollout (not the question's index in this build, which chunking changes)
    frh = pl.col("rh").filter(pl.col("is_final")).first().over(TRACE_KEY)
    pos = seeded_hash(pl.struct(frh, "k"), ctx, "order") % (pl.col("size") - 1).clip(1).cast(pl.UInt64)
    steps = steps.with_columns(pl.col("step").filter(pl.col("is_final")).first().over(TRACE_KEY).alias("fstep"))
    move = (pl.col("size") > 1) & (pl.col("fstep") == pl.col("size") - 1)
    new = (
        pl.when(~move)
        .then(pl.col("step"))
        .when(pl.col("is_final"))
        .then(pos.cast(pl.Int64))
        .when(pl.col("step") >= pos.cast(pl.Int64))
        .then(pl.col("step") + 1)
        .otherwise(pl.col("step"))
    )
    return steps.with_columns(new.alias("step")).drop("size", "fstep", "rh")


_BY_SHAPE = {
    "one_correct": _one_trace_ending_correct,
    "ends_correct": _one_trace_ending_correct,
    "per_length": _fresh_per_length,
    "two_correct": _two_correct,
    "backtrack": _backtrack,
    "any": _any_samples,
    "raw_correct": _star_baseline,
}
#: format code -> its picker, from the format records (sfdata.factory.registry)
PICKERS = {f.code: _BY_SHAPE[f.shape] for f in TRACE_FORMATS}
