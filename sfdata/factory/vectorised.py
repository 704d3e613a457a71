"""Vectorised trace assembly: every format's picks and string stitching as Polars expressions.

The rules are those of `formats.choose` / `formats.render` (the per-question reference that the
property tests exercise); here they run over all questions at once, one pass per format x repeat:

- randomness is a seeded 64-bit hash of stable ids (rollout id, question id, trace index), never a
  sequential RNG, so a question's traces do not depend on which other questions are in the build,
  on chunking or on worker count. Seeds come from (cfg.seed, format, repeat, ablation, role).
- "prefer prompt variants the trace has least" is a sort: a candidate's level is its rank among
  the trace's candidates of the same variant (in hash order) plus how often the trace already
  holds that variant; picking in (level, hash) order equals the greedy least-used pick. Sorts pack
  (question index, level) and the top 24 bits of the hash into one UInt64: one radix sort instead
  of a multi-column one; ties in those bits (~m^2/2^25 per question of m candidates) keep sample order.
- a trace is a list of steps (sample row, position), sorted by trace; ids and counts are one
  group_by over those contiguous rows, and the text is one concat_str per trace over each step's
  parts gathered by position (tags ride with their neighbours), so no Python runs per trace and
  each trace's text is copied once.
- joins on the question index or sample row are lookups (`_dense` arrays: a scatter and a gather).

History (re-ids, changed draws): CHANGELOG.md.
Hashes are Polars' seeded hash: stable for a given Polars version (pinned range in pyproject), so a
build is reproducible under `--seed`; a Polars upgrade may change trace ids (a one-time re-id).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, replace

import polars as pl

from sfdata.factory import phrases
from sfdata.factory.mix import purpose_of

Q = "qidx"
_RID_SEED = 0x51D_F00D  # rollout ids hashed with this seed key the no_sample_order draw
T = [Q, "k"]  # a trace: question index and sub-index (*C_full / no_reflection lengths)


@dataclass
class Ctx:
    """One format x repeat pass: its seeds and options."""

    fmt: str
    rep: int
    seed: int
    ablation: str | None
    n: int
    n_range: tuple[int, ...] | None
    unique_variants: bool
    with_refl: bool
    rh: pl.Series | None = None  # rollout-id hash of every sample, by `pos` (the no_sample_order draw)
    n_pos: int = 0  # sample rows (`pos` < n_pos) and question indices (Q < n_q): sizes of lookup arrays
    n_q: int = 0
    n_v: int = 0  # variant codes (vcode < n_v)
    qs: pl.DataFrame | None = None  # the questions (Q, question_id): per-question draws
    star_per_question: int = 0  # STaR: correct samples per question, one trace each (0 = all)

    def s(self, role: str) -> int:
        """A 64-bit hash seed for one role of this pass."""
        key = "\x1f".join(map(str, (self.seed, self.fmt, self.rep, self.ablation, role))).encode()
        return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _h(expr: pl.Expr, ctx: Ctx, role: str) -> pl.Expr:
    return expr.hash(seed=ctx.s(role))


def _run_index(*keys: str) -> pl.Expr:
    """Position within runs of equal `keys` in a frame sorted by them (linear; no hashing)."""
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    first = pl.lit(False)
    for k in keys:
        first = first | (pl.col(k) != pl.col(k).shift(1)).fill_null(True)
    return idx - pl.when(first).then(idx).forward_fill()


def _sort_small(df: pl.DataFrame, keys: list[tuple[str, int]], tail: str | None = None) -> pl.DataFrame:
    """Stable sort by small non-negative integer `keys` (name, bits) and then the top bits of the UInt64
    hash `tail` (whatever of 64 bits the keys leave): packed into one UInt64, one radix sort instead of a
    multi-column row-encoded sort (~2.5x faster on 800k rows). A key too large for its bits falls back to
    the same order by columns, so the result never depends on which path ran."""
    free = 64 - sum(b for _, b in keys)
    parts = [pl.col(c).cast(pl.UInt64) for c, _ in keys]
    if tail is not None:
        parts.append(pl.col(tail) // (1 << (64 - free)) if free < 64 else pl.col(tail))
    if df.height == 0:
        return df
    fits = {pl.UInt8: 8, pl.UInt16: 16, pl.UInt32: 32}  # unsigned columns no wider than their bits always fit
    check = [(c, b) for c, b in keys if fits.get(df.schema[c], 99) > b]
    if check:
        bounds = df.select(
            *(pl.col(c).max().cast(pl.Int64).alias(f"max{i}") for i, (c, _) in enumerate(check)),
            *(pl.col(c).min().cast(pl.Int64).alias(f"min{i}") for i, (c, _) in enumerate(check)),
        ).row(0)
        tops, lows = bounds[: len(check)], bounds[len(check) :]
        if any(m >= (1 << b) for m, (_, b) in zip(tops, check)) or min(lows) < 0:
            return df.sort(parts, maintain_order=True)
    packed, shift = pl.lit(0, pl.UInt64), 64
    for part, (_, b) in zip(parts, keys):
        shift -= b
        packed = packed + part * pl.lit(1 << shift, pl.UInt64)
    if tail is not None:
        packed = packed + parts[-1]
    return df.sort(packed, maintain_order=True)


def _ranked(df: pl.DataFrame, ctx: Ctx, used: pl.DataFrame | None = None, variants: bool = True) -> pl.DataFrame:
    """Candidates with `r`: their pick order within the question (see module doc). With unique variants,
    `df` is a subset of the pass's candidates, which come sorted by (question, variant, key): `_by_variant`."""
    if variants and ctx.unique_variants:
        df = df.with_columns(_run_index(Q, "vcode").alias("lvl"))
        if used is not None:  # how often the trace already holds each (question, variant)
            df = df.with_columns(pl.col("lvl") + _used(df, used, ctx))
        df = _sort_small(df, [(Q, 32), ("lvl", 8)], "key")
    else:
        df = _sort_small(df, [(Q, 32)], "key")
    return df.with_columns(_run_index(Q).alias("r")).drop("lvl", "cnt", strict=False)


def _by_variant(cand: pl.DataFrame) -> pl.DataFrame:
    """The pass's candidates by (question, variant, key): sorted once, every subset `_ranked` reads is a
    filter of it (filters keep the order)."""
    return _sort_small(cand, [(Q, 32), ("vcode", 8)], "key")


def _used(df: pl.DataFrame, used: pl.DataFrame, ctx: Ctx) -> pl.Series:
    """used.cnt at each row's (question, variant), 0 where absent: a lookup array indexed by
    Q * n_variants + vcode (a join on the pair when that array would be large)."""
    n_v = ctx.n_v
    if n_v and ctx.n_q * n_v <= 4 * max(ctx.n_pos, 1):
        at = (pl.col(Q).cast(pl.Int64) * n_v + pl.col("vcode").cast(pl.Int64)).alias("qv")
        table = _dense(used.select(at, "cnt"), "qv", "cnt", ctx.n_q * n_v, 0)
        return df.select(pl.lit(table).gather(at)).to_series()
    got = df.select(Q, "vcode").join(used, on=[Q, "vcode"], how="left", maintain_order="left")
    return got["cnt"].fill_null(0)


def _counts(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by(Q, "vcode").agg(pl.len().cast(pl.Int64).alias("cnt"))


def _n_of(qs: pl.DataFrame, ctx: Ctx) -> pl.Expr:
    """Per question N (drawn from n_range when set), as an expression of the question index."""
    if not ctx.n_range:
        return pl.lit(max(ctx.n, 1), pl.Int64)
    lo, hi = ctx.n_range
    n = pl.lit(lo, pl.Int64) + (_h(pl.col("question_id"), ctx, "n") % (hi - lo + 1)).cast(pl.Int64)
    per_q = qs.select(Q, pl.max_horizontal(n, pl.lit(1, pl.Int64)).alias("n"))
    return _at(_dense(per_q, Q, "n", ctx.n_q, 0), Q)


def _dense(df: pl.DataFrame, idx: str, col: str | None, size: int, fill) -> pl.Series:
    """A lookup array of `size`: df[col] at positions df[idx] (True there when col is None), `fill` elsewhere.
    Replaces a hash join on a dense integer key (question index, sample row) by one scatter and a gather."""
    base = pl.repeat(fill, size, eager=True)
    if col is None:
        base = base.cast(pl.Boolean)
    else:
        base = base.cast(df.schema[col])
    return base.scatter(df[idx], True if col is None else df[col])


def _at(values: pl.Series, idx: str) -> pl.Expr:
    """values[idx] for each row (a gather from a `_dense` lookup array)."""
    return pl.lit(values).gather(pl.col(idx))


def _prefix(others: pl.DataFrame, used: pl.DataFrame, ctx: Ctx, need: pl.Expr) -> pl.DataFrame:
    """The first `need` of `others` in pick order (need: an expression of n)."""
    return _ranked(others, ctx, used).filter(pl.col("r") < need).select(Q, "pos", "r")


def _final_family(cand: pl.DataFrame, nq: pl.Expr, ctx: Ctx) -> pl.DataFrame:
    """0C, *C: N-1 samples from all usable ones, then a correct one (one trace per question)."""
    steps = _ends_correct(cand, nq - 1 if ctx.fmt != "0C" else None, ctx)
    return _reorder(steps.with_columns(pl.lit(0, pl.Int64).alias("k")), ctx)


def _ends_correct(cand: pl.DataFrame, need: pl.Expr | None, ctx: Ctx) -> pl.DataFrame:
    """Steps (Q, pos, step, is_final) of traces ending in a correct sample after `need` others (None: none)."""
    final = _ranked(cand.filter(pl.col("is_correct")), ctx).filter(pl.col("r") == 0)
    if need is None:
        pre = pl.DataFrame(schema={Q: pl.UInt32, "pos": pl.UInt32, "r": pl.Int64})
    else:  # every other usable sample of a question that has a final one
        keep = _at(_dense(final, Q, None, ctx.n_q, False), Q) & ~_at(
            _dense(final, "pos", None, ctx.n_pos, False), "pos"
        )
        pre = _prefix(cand.filter(keep), _counts(final), ctx, need)
    length = pre.group_by(Q).agg(pl.len().cast(pl.Int64).alias("L"))
    fin = final.select(Q, "pos").join(length, on=Q, how="left").with_columns(pl.col("L").fill_null(0))
    return pl.concat(
        [
            pre.select(Q, "pos", pl.col("r").alias("step"), pl.lit(False).alias("is_final")),
            fin.select(Q, "pos", pl.col("L").alias("step"), pl.lit(True).alias("is_final")),
        ],
        how="vertical_relaxed",
    )


def _fresh_per_length(cand: pl.DataFrame, nq: pl.Expr, ctx: Ctx) -> pl.DataFrame:
    """*C_full, no_reflection (the official construction): one trace per length 1..N, each drawn afresh.

    Trace k (k = 0..min(N, usable) - 1) holds k samples and then a correct one. Each length is its own
    draw unit `Q * lengths + k` with its own shuffle key (hash of the pass key and k), so the picks are the
    *C picks of an independent draw; the steps map back to (question, k)."""
    lengths = max(ctx.n_range[1] if ctx.n_range else ctx.n, 1)
    per_q = cand.group_by(Q).agg(pl.len().cast(pl.Int64).alias("u"))
    cand = cand.with_columns(nq.alias("N")).join(per_q, on=Q, how="left")
    ks = pl.DataFrame({"k": pl.int_range(0, lengths, dtype=pl.Int64, eager=True)})
    unit = (pl.col(Q).cast(pl.UInt64) * lengths + pl.col("k").cast(pl.UInt64)).cast(pl.UInt32)
    draws = (
        cand.join(ks, how="cross")
        .filter(pl.col("k") < pl.min_horizontal("N", "u"))
        .with_columns(
            unit.alias(Q),
            _h(pl.struct("key", "k"), ctx, "length").alias("key"),
        )
    )
    if ctx.unique_variants:
        draws = _by_variant(draws)
    sub = replace(ctx, n_q=ctx.n_q * lengths)
    steps = _ends_correct(draws.drop("N", "u"), pl.col("k"), sub)  # trace k: k samples before the correct one
    steps = steps.with_columns(
        (pl.col(Q).cast(pl.Int64) // lengths).cast(pl.UInt32).alias(Q),
        (pl.col(Q).cast(pl.Int64) % lengths).alias("k"),
    )
    return _reorder(steps.select(Q, "k", "pos", "step", "is_final"), ctx)


def _star_cc(cand: pl.DataFrame, nq: pl.Expr, ctx: Ctx) -> pl.DataFrame:
    """*CC: N-2 samples, then two correct ones (the last is final)."""
    rc = _ranked(cand.filter(pl.col("is_correct")), ctx)
    enough = _at(_dense(rc.filter(pl.col("r") == 1), Q, None, ctx.n_q, False), Q)  # two correct ones or more
    finals = rc.filter((pl.col("r") < 2) & enough)
    others = cand.filter(enough & ~_at(_dense(finals, "pos", None, ctx.n_pos, False), "pos"))
    pre = _prefix(others, _counts(finals), ctx, nq - 2)
    length = pre.group_by(Q).agg(pl.len().cast(pl.Int64).alias("L"))
    fin = finals.join(length, on=Q, how="left").with_columns(pl.col("L").fill_null(0))
    steps = pl.concat(
        [
            pre.select(Q, "pos", pl.col("r").alias("step"), pl.lit(False).alias("is_final")),
            fin.select(Q, "pos", (pl.col("L") + pl.col("r")).alias("step"), (pl.col("r") == 1).alias("is_final")),
        ],
        how="vertical_relaxed",
    ).with_columns(pl.lit(0, pl.Int64).alias("k"))
    return _reorder(steps, ctx)


def _star_cic(cand: pl.DataFrame, nq: pl.Expr, ctx: Ctx) -> pl.DataFrame:
    """*C*IC: incorrect ones around one correct one (at least one after it); tail repeats the correct one."""
    good = _ranked(cand.filter(pl.col("is_correct")), ctx).filter(pl.col("r") == 0)
    wrong_pool = cand.filter(~pl.col("is_correct") & _at(_dense(good, Q, None, ctx.n_q, False), Q))
    wrong = _prefix(wrong_pool, _counts(good), ctx, pl.max_horizontal(nq - 1, pl.lit(1)))
    w = wrong.group_by(Q).agg(pl.len().cast(pl.Int64).alias("W"))
    good = good.join(w, on=Q)
    qh = ctx.qs.select(Q, _h(pl.col("question_id"), ctx, "split").alias("h"))  # per question, by index
    split = (_at(_dense(qh, Q, "h", ctx.n_q, 0), Q) % pl.col("W").cast(pl.UInt64)).cast(pl.Int64)
    good = good.with_columns(split.alias("split"))
    wrong = wrong.with_columns(_at(_dense(good, Q, "split", ctx.n_q, 0), Q).alias("split"))
    return pl.concat(
        [
            wrong.select(
                Q,
                "pos",
                pl.when(pl.col("r") < pl.col("split")).then(pl.col("r")).otherwise(pl.col("r") + 1).alias("step"),
                pl.lit(False).alias("is_final"),
            ),
            good.select(Q, "pos", pl.col("split").alias("step"), pl.lit(True).alias("is_final")),
        ],
        how="vertical_relaxed",
    ).with_columns(pl.lit(0, pl.Int64).alias("k"))


def _random(cand: pl.DataFrame, nq: pl.Expr, ctx: Ctx) -> pl.DataFrame:
    """random: N usable samples in pick order; the last one's answer is final."""
    picked = _ranked(cand, ctx).filter(pl.col("r") < nq)  # in (question, r) order
    last = (pl.col(Q) != pl.col(Q).shift(-1)).fill_null(True)
    return picked.select(Q, pl.lit(0, pl.Int64).alias("k"), "pos", pl.col("r").alias("step"), last.alias("is_final"))


def _star(cand: pl.DataFrame, nq: pl.Expr, ctx: Ctx) -> pl.DataFrame:
    """STaR baseline: every correct sample of a question (at most `star_per_question` in pick order), one trace
    each (k = its pick rank), any variant."""
    picked = _ranked(cand.filter(pl.col("is_correct")), ctx, variants=False)
    if ctx.star_per_question > 0:
        picked = picked.filter(pl.col("r") < ctx.star_per_question)
    return picked.select(
        Q, pl.col("r").alias("k"), "pos", pl.lit(0, pl.Int64).alias("step"), pl.lit(True).alias("is_final")
    )


def _reorder(steps: pl.DataFrame, ctx: Ctx) -> pl.DataFrame:
    """no_sample_order ablation: the final (last) sample moves to a random earlier position."""
    if ctx.ablation != "no_sample_order":
        return steps
    size = pl.len().over(T).cast(pl.Int64)
    steps = steps.with_columns(size.alias("size"), pl.lit(ctx.rh).gather(pl.col("pos")).alias("rh"))
    # keyed by the final sample's rollout (not the question's index in this build, which chunking changes)
    frh = pl.col("rh").filter(pl.col("is_final")).first().over(T)
    pos = _h(pl.struct(frh, "k"), ctx, "order") % (pl.col("size") - 1).clip(1).cast(pl.UInt64)
    steps = steps.with_columns(pl.col("step").filter(pl.col("is_final")).first().over(T).alias("fstep"))
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


PICKERS = {
    "0C": _final_family,
    "*C": _final_family,
    "*C_full": _fresh_per_length,
    "no_reflection": _fresh_per_length,
    "*CC": _star_cc,
    "*C*IC": _star_cic,
    "random": _random,
    "star": _star,
}


_HEX16 = None


def _hex64(h: pl.Expr) -> pl.Expr:
    """A UInt64 as 16 lowercase hex digits (the ids' old width): four 16-bit lookups."""
    global _HEX16
    if _HEX16 is None:
        _HEX16 = pl.Series([f"{i:04x}" for i in range(65536)], dtype=pl.String)
    return pl.concat_str([pl.lit(_HEX16).gather(((h // (1 << (16 * k))) % 65536).cast(pl.Int64)) for k in (3, 2, 1, 0)])


def _phrase(idx: pl.Expr, items: list[str]) -> pl.Expr:
    """items[idx] (a gather from the list: no hashing per row)."""
    return pl.lit(pl.Series(items, dtype=pl.String)).gather(idx.cast(pl.Int64))


# one step's parts, joined by newlines (null ones left out): the response; "</sample>" (and "<reflect>" when
# a reflection follows); the reflection; then "</reflect>" and/or the glue phrase and the next "<sample>".
# Literal tags ride along with their neighbours: concat_str's cost grows with the number of parts.
_PIECES = ("resp", "mid", "rtext", "after")


def _blocks(steps: pl.DataFrame, samples: pl.DataFrame, refls: pl.DataFrame, ctx: Ctx) -> pl.DataFrame:
    """Steps in trace order, joined to their sample, with the chosen reflection, glue and the step's text
    parts (`_PIECES`: null parts are left out), so each trace's text is written in one concat_str."""
    steps = _sort_small(steps, [(Q, 32), ("k", 16), ("step", 16)])
    st = pl.concat([steps, samples[steps["pos"]]], how="horizontal")
    tk = (pl.col(Q).cast(pl.UInt64) * 65536) + pl.col("k").cast(pl.UInt64)  # one trace; k < 2^16
    st = st.with_columns(tk.alias("tk"))
    last = (pl.col("tk") != pl.col("tk").shift(-1)).fill_null(True)
    with_refl = ctx.with_refl and ctx.fmt not in ("no_reflection", "star")
    if with_refl:
        pick = _h(pl.struct("rollout_id", "k"), ctx, "reflection") % pl.col("n_refl").clip(1).cast(pl.UInt64)
        ridx = pl.when(pl.col("n_refl") > 0).then(pl.col("refl_start") + pick.cast(pl.Int64))
        at = st.select(ridx.alias("ridx"))["ridx"]
        got = refls.select("reflection_id", "text")[at.fill_null(0)]
        got = got.with_columns(pl.when(at.is_not_null()).then(pl.col(c)).alias(c) for c in ("reflection_id", "text"))
        st = pl.concat([st, got], how="horizontal")
    else:
        st = st.with_columns(pl.lit(None, pl.String).alias("reflection_id"), pl.lit(None, pl.String).alias("text"))
    st = st.with_columns(_h(pl.struct("rollout_id", "k", "step"), ctx, "glue").alias("g"))  # read by every branch below
    has_refl = pl.col("text").is_not_null()

    # "</reflect>" and/or the glue phrase (with reflections: retry after Incorrect, double-check after Correct;
    # without: the verdict-neutral pool) and the next "<sample>": one gather from the phrase lists laid end to end
    after_correct, after_incorrect, _, _ = phrases.glue_pools(with_refl)
    kinds = [(r, items) for r in ("</reflect>\n", "") for items in (after_correct, after_incorrect)]
    table = [f"{r}{p}\n<sample>" for r, items in kinds for p in items]
    starts = [sum(len(items) for _, items in kinds[:i]) for i in range(len(kinds))]
    kind = pl.when(has_refl).then(0).otherwise(2) + pl.when(pl.col("is_correct")).then(0).otherwise(1)
    sizes = [len(items) for _, items in kinds]
    idx = pl.lit(pl.Series(starts)).gather(kind) + (
        pl.col("g") % pl.lit(pl.Series(sizes, dtype=pl.UInt64)).gather(kind)
    ).cast(pl.Int64)
    after = pl.when(~last).then(_phrase(idx, table)).when(has_refl).then(pl.lit("</reflect>"))
    return st.with_columns(
        pl.col("response").alias("resp"),  # stripped by samples_by_question, like the reflection texts
        pl.when(has_refl).then(pl.lit("</sample>\n<reflect>")).otherwise(pl.lit("</sample>")).alias("mid"),
        pl.col("text").alias("rtext"),
        after.alias("after"),
        last.alias("last"),
    )


def _per_trace(st: pl.DataFrame, tail: bool = False) -> pl.DataFrame:
    """Ids listed and counts summed per trace (steps are sorted by trace, so the group_by is cheap), and
    every step's text parts as columns (`resp0`, `mid0`, ... of step 0; null past a trace's last step),
    gathered by position so `_traces` copies each trace's text once. `tail`: the final sample's ids are
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
    longest = int(agg["n_samples"].max() or 0)
    src = st.select(_PIECES)
    start, size = agg["start"], agg["n_samples"]
    wide = []
    for j in range(longest):
        at = pl.select(pl.when(size > j).then(start + j)).to_series()  # null index -> null row
        wide.append(src[at].rename({c: f"{c}{j}" for c in _PIECES}))
    return pl.concat([agg.drop("tk", "start"), *wide], how="horizontal")


def _traces(st: pl.DataFrame, ctx: Ctx) -> pl.DataFrame:
    """One row per trace: ids, counts, final answer, then the whole message in one concat_str."""
    agg = _per_trace(st, tail=ctx.fmt == "*C*IC")
    fin = st.filter(pl.col("is_final")).select(  # exactly one per trace, in the same order
        Q,
        "k",
        "question_id",
        pl.col("extracted_answer").alias("final_answer"),
        "is_correct",
        pl.col("resp").alias("final_response"),
    )
    agg = pl.concat([fin, agg], how="horizontal").with_columns(
        (pl.col("n_samples") - pl.col("n_correct")).alias("n_incorrect")
    )
    th = _h(pl.col("question_id"), ctx, "trace") + pl.col("k").cast(pl.UInt64)
    agg = agg.with_columns(th.hash(seed=ctx.s("trace2")).alias("th"))  # read twice below
    th = pl.col("th")
    parts = [c for c in agg.columns if c.rstrip("0123456789") in _PIECES and c[-1].isdigit()]
    tail: list[pl.Expr] = []
    n_back, n_conf, close = 0, 0, ""
    _, _, backtrack, confirm = phrases.glue_pools(ctx.with_refl)
    if ctx.fmt == "*CC":
        tail, n_conf = [_phrase((th // 256) % len(confirm), confirm)], 1
    if ctx.fmt == "*C*IC":
        back = _phrase((th // 256) % len(backtrack), [f"{b}\n<sample>" for b in backtrack])
        tail, close = [back, pl.col("final_response")], "</sample>\n"
        n_back = 1  # (its ids are listed again by _per_trace)
    # the ending phrase carries the tags around it (fewer parts for concat_str)
    ending = _phrase(th % len(phrases.ENDING), [f"{close}</think>\n\n{e}\n\n<answer>" for e in phrases.ENDING])
    if ctx.fmt == "star":
        text = pl.col("final_response")
    else:  # formats.render's layout, every part joined by one newline (null parts: steps a trace lacks)
        head = [pl.lit("<think>\n<sample>"), *map(pl.col, parts), *tail, ending]
        text = pl.concat_str([*head, pl.col("final_answer"), pl.lit("</answer>")], separator="\n", ignore_nulls=True)
    return agg.with_columns(
        text.alias("trace"),
        pl.lit(n_back, pl.Int32).alias("n_backtracks"),
        pl.lit(n_conf, pl.Int32).alias("n_confirms"),
    ).drop(*parts, "th")


_SKIP_RULES = {  # format -> [(reason, condition on per-question counts c (correct), w (incorrect), u (usable))]
    "0C": [("no_correct", pl.col("c") == 0)],
    "*C": [("no_correct", pl.col("c") == 0)],
    "*C_full": [("no_correct", pl.col("c") == 0)],
    "no_reflection": [("no_correct", pl.col("c") == 0)],
    "star": [("no_correct", pl.col("c") == 0)],
    "*CC": [("fewer_than_two_correct", pl.col("c") < 2)],
    "*C*IC": [("no_correct", pl.col("c") == 0), ("no_incorrect", pl.col("w") == 0)],
    "random": [("no_usable_sample", pl.col("u") == 0)],
}


_TAGGED_REASONS = {"no_correct": "no_clean_correct", "fewer_than_two_correct": "fewer_than_two_clean_correct"}


def _question_counts(qs: pl.DataFrame, cand: pl.DataFrame, unclean: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per question: usable correct (c), incorrect (w) and all (u) samples, and correct ones left out
    only for not being clean (t); shared by every format with the same usable samples."""
    per = cand.group_by(Q).agg(
        pl.col("is_correct").sum().alias("c"), (~pl.col("is_correct")).sum().alias("w"), pl.len().alias("u")
    )
    per = qs.select(Q).join(per, on=Q, how="left").fill_null(0)
    if unclean is not None:
        dirty = unclean.filter(pl.col("is_correct")).group_by(Q).agg(pl.len().alias("t"))
        return per.join(dirty, on=Q, how="left").with_columns(pl.col("t").fill_null(0))
    return per.with_columns(pl.lit(0).alias("t"))


def _skips(per: pl.DataFrame, fmt: str) -> Counter:
    """Why questions get no trace of this format (counted like formats.Skip reasons), from `_question_counts`.

    Correct samples left out only because they are not clean (structural tags such as an imported
    `<think>`, no answer) are counted as `no_clean_correct` (or `fewer_than_two_clean_correct`), so the
    report does not claim the model never got the question right."""
    with_dirty = per.with_columns(pl.col("c") + pl.col("t"))
    out: Counter = Counter()
    left = pl.Series([True] * per.height, dtype=pl.Boolean)
    for reason, cond in _SKIP_RULES[fmt]:
        hit = per.select(cond).to_series() & left
        tagged = reason in _TAGGED_REASONS
        only_unclean = hit & ~with_dirty.select(cond).to_series() if tagged else hit & False
        if only_unclean.sum():
            out[f"{fmt}:{_TAGGED_REASONS[reason]}"] += int(only_unclean.sum())
        if (hit & ~only_unclean).sum():
            out[f"{fmt}:{reason}"] += int((hit & ~only_unclean).sum())
        left = left & ~hit
    return out


def prepare(
    samples: pl.DataFrame, prompts: dict[str, str], tasks: dict[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Samples with row/question indices, variant codes, rollout-id hashes and reflection offsets; questions
    with their prompt and task."""
    variants = samples["variant"].fill_null("").unique().sort()  # local codes, whatever else the process holds
    s = samples.with_row_index("pos").with_columns(
        (pl.col("n_refl").cum_sum() - pl.col("n_refl")).cast(pl.Int64).alias("refl_start"),
        (pl.col("question_id") != pl.col("question_id").shift(1)).fill_null(True).cum_sum().cast(pl.UInt32).alias(Q),
        pl.col("variant").fill_null("").cast(pl.Enum(variants)).to_physical().cast(pl.UInt32).alias("vcode"),
        pl.col("rollout_id").hash(seed=_RID_SEED).alias("rh"),  # the no_sample_order draw's key (by row)
    )
    qs = s.select(Q, "question_id").filter((pl.col(Q) != pl.col(Q).shift(1)).fill_null(True))  # rows are by question
    known = pl.DataFrame(
        {"question_id": list(prompts), "prompt": list(prompts.values())},
        schema={"question_id": pl.String, "prompt": pl.String},
    )
    task = pl.DataFrame(
        {"question_id": list(tasks), "task": list(tasks.values())}, schema={"question_id": pl.String, "task": pl.String}
    )
    qs = qs.join(known, on="question_id", how="left", maintain_order="left")
    qs = qs.join(task, on="question_id", how="left", maintain_order="left")
    unknown = qs.filter(pl.col("prompt").is_null()).height
    return s, qs.filter(pl.col("prompt").is_not_null()).with_columns(pl.col("task").fill_null("")), unknown


def assemble_frames(
    samples: pl.DataFrame, refls: pl.DataFrame, prompts: dict[str, str], tasks: dict[str, str], cfg, created
) -> tuple[pl.DataFrame, Counter]:
    """Every trace of `cfg` for these samples (see module doc), in (question, format, repeat, length) order."""
    from sfdata.store.schemas import TRACES

    full, qs, unknown = prepare(samples, prompts, tasks)
    skipped: Counter = Counter({"*:unknown_question": unknown} if unknown else {})
    n_q = int(full[Q].max() or 0) + 1
    s = full.filter(_at(_dense(qs, Q, None, n_q, False), Q)) if qs.height < n_q - 1 else full
    if cfg.ablation == "no_prompt_diversity":
        s = s.filter(pl.col("variant") == cfg.variant)
    cols = ["pos", "rollout_id", "vcode", "is_correct"]
    sample_cols = full.select(
        "rollout_id",
        "question_id",
        "variant",
        "response",
        "extracted_answer",
        "is_correct",
        "n_refl",
        "refl_start",
    )
    frames = []
    pools: dict[bool, tuple[pl.DataFrame, pl.DataFrame]] = {}  # need_refl -> (candidates, per-question counts)
    for fi, fmt in enumerate(cfg.formats):
        need_refl = cfg.ablation != "no_reflections" and fmt not in ("no_reflection", "star")
        if need_refl not in pools:
            usable = (pl.col("n_refl") > 0) | (not need_refl)
            small = s.select(Q, *cols, "clean", "n_refl")
            unclean = small.filter(~pl.col("clean") & usable).select(Q, "is_correct")
            cand = small.filter(pl.col("clean") & usable).select(Q, *cols)
            pools[need_refl] = cand, _question_counts(qs, cand, unclean)
        cand, per = pools[need_refl]
        skips = _skips(per, fmt)
        for rep in range(cfg.repeats):
            ctx = Ctx(
                fmt,
                rep,
                cfg.seed,
                cfg.ablation,
                cfg.n,
                cfg.n_range,
                cfg.unique_variants and cfg.ablation != "no_prompt_diversity",
                need_refl,
                full["rh"],
                full.height,
                n_q,
                int(full["vcode"].max() or 0) + 1,
                qs.select(Q, "question_id"),
                star_per_question=cfg.star_per_question,
            )
            skipped.update(skips)
            # the pass's shuffle; then numbers only (candidates are sorted several times a pass)
            keyed = cand.with_columns(_h(pl.col("rollout_id"), ctx, "shuffle").alias("key")).drop("rollout_id")
            if ctx.unique_variants:
                keyed = _by_variant(keyed)
            steps = PICKERS[fmt](keyed, _n_of(qs, ctx), ctx)
            if steps.height == 0:
                continue
            tr = _traces(_blocks(steps.select(Q, "k", "pos", "step", "is_final"), sample_cols, refls, ctx), ctx)
            frames.append(
                tr.with_columns(pl.lit(fi).alias("fi"), pl.lit(rep).alias("rep"), pl.lit(fmt).alias("format"))
            )
    if not frames:
        return pl.DataFrame(schema=TRACES), skipped
    return _trace_table(frames, qs, cfg, created), skipped


def _trace_table(frames: list[pl.DataFrame], qs: pl.DataFrame, cfg, created) -> pl.DataFrame:
    """The per-format trace frames as one traces table: question columns joined, content ids, provenance."""
    from sfdata.store.schemas import TRACES

    # each frame is one (format, repeat) in (question, k) order, concatenated in (format, repeat) order:
    # a stable sort on the question index alone gives (question, format, repeat, k)
    df = (
        pl.concat(frames, how="vertical_relaxed")
        .sort(Q, maintain_order=True)
        .join(qs.drop("question_id"), on=Q, how="left", maintain_order="left")
    )
    # 64-bit content id: each part hashed on its own (no concatenated copy of every trace), then combined
    parts = [
        pl.concat_str(
            [pl.col("question_id"), pl.col("format"), pl.lit(cfg.ablation or ""), pl.col("rep").cast(pl.String)],
            separator="\x1f",
        ).hash(seed=1),
        pl.col("rollout_ids").hash(seed=2),
        pl.col("reflection_ids").hash(seed=3),
        pl.col("trace").hash(seed=4),
    ]
    # a column first: _hex64 reads it four times (an expression would be evaluated four times)
    df = df.with_columns(pl.struct([h.alias(f"h{i}") for i, h in enumerate(parts)]).hash(seed=0x5EED_F00D).alias("tid"))
    tid = _hex64(pl.col("tid"))
    purpose = {f: purpose_of(f, cfg.ablation) for f in cfg.formats}
    out = df.select(
        tid.alias("trace_id"),
        "question_id",
        "task",
        "format",
        pl.lit(cfg.ablation, pl.String).alias("ablation"),
        pl.col("format").replace_strict(purpose, return_dtype=pl.String).alias("purpose"),
        "n_samples",
        "prompt",
        "trace",
        "final_answer",
        "is_correct",
        "rollout_ids",
        "reflection_ids",
        "variants",
        "n_correct",
        "n_incorrect",
        "n_retries",
        "n_backtracks",
        "n_confirms",
        pl.lit(cfg.seed, pl.Int64).alias("seed"),
        pl.lit(created).alias("created_at"),
    )
    return out.cast(TRACES)
