"""Vectorised trace assembly: every format's picks and text as Polars passes over all questions at once.

One pass per format x repeat (`passes.PassContext`): the pass's candidates (usable samples) are keyed by a
seeded hash, `pickers` chooses each trace's samples, `stitch` writes ids, counts and text, and
`_trace_table` adds the question columns and the content id. Skipped questions are counted by reason
(the format records' skip rules, `registry.skip_rules`). No Python runs per trace.

Hashes are Polars' seeded hash: stable for a given Polars version (pinned range in pyproject), so a
build is reproducible under `--seed`; a Polars upgrade may change trace ids (a one-time re-id).
History (re-ids, changed draws): CHANGELOG.md.
"""

from __future__ import annotations

from collections import Counter
from typing import cast

import polars as pl

from sfdata.factory.mix import purpose_of
from sfdata.factory.passes import QIDX, PassContext, by_variant, dense_table, lookup, n_per_question, seeded_hash
from sfdata.factory.pickers import PICKERS
from sfdata.factory.registry import skip_rules, uses_reflections
from sfdata.factory.stitch import trace_rows, trace_steps

_RID_SEED = 0x51D_F00D  # rollout ids hashed with this seed key the no_sample_order draw


_HEX16 = None


def _hex64(h: pl.Expr) -> pl.Expr:
    """A UInt64 as 16 lowercase hex digits (the ids' old width): four 16-bit lookups."""
    global _HEX16
    if _HEX16 is None:
        _HEX16 = pl.Series([f"{i:04x}" for i in range(65536)], dtype=pl.String)
    return pl.concat_str([pl.lit(_HEX16).gather(((h // (1 << (16 * k))) % 65536).cast(pl.Int64)) for k in (3, 2, 1, 0)])


_TAGGED_REASONS = {"no_correct": "no_clean_correct", "fewer_than_two_correct": "fewer_than_two_clean_correct"}


def _question_counts(qs: pl.DataFrame, cand: pl.DataFrame, unclean: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per question: usable correct, incorrect and all samples, and correct ones left out only for not being
    clean (n_unclean_correct); shared by every format with the same usable samples."""
    per = cand.group_by(QIDX).agg(
        pl.col("is_correct").sum().alias("n_correct"),
        (~pl.col("is_correct")).sum().alias("n_incorrect"),
        pl.len().alias("n_usable"),
    )
    per = qs.select(QIDX).join(per, on=QIDX, how="left").fill_null(0)
    if unclean is not None:
        dirty = unclean.filter(pl.col("is_correct")).group_by(QIDX).agg(pl.len().alias("n_unclean_correct"))
        return per.join(dirty, on=QIDX, how="left").with_columns(pl.col("n_unclean_correct").fill_null(0))
    return per.with_columns(pl.lit(0).alias("n_unclean_correct"))


def _skips(per: pl.DataFrame, fmt: str) -> Counter:
    """Why questions get no trace of this format (counted like formats.Skip reasons), from `_question_counts`.

    Correct samples left out only because they are not clean (structural tags such as an imported
    `<think>`, no answer) are counted as `no_clean_correct` (or `fewer_than_two_clean_correct`), so the
    report does not claim the model never got the question right."""
    with_dirty = per.with_columns(pl.col("n_correct") + pl.col("n_unclean_correct"))
    out: Counter = Counter()
    left = pl.Series([True] * per.height, dtype=pl.Boolean)
    for reason, column, minimum in skip_rules(fmt):
        cond = pl.col(column) < minimum
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
        (pl.col("question_id") != pl.col("question_id").shift(1)).fill_null(True).cum_sum().cast(pl.UInt32).alias(QIDX),
        pl.col("variant").fill_null("").cast(pl.Enum(variants)).to_physical().cast(pl.UInt32).alias("vcode"),
        pl.col("rollout_id").hash(seed=_RID_SEED).alias("rh"),  # the no_sample_order draw's key (by row)
    )
    qs = s.select(QIDX, "question_id").filter(
        (pl.col(QIDX) != pl.col(QIDX).shift(1)).fill_null(True)
    )  # rows are by question
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
    n_q = cast(int, full[QIDX].max() or 0) + 1  # an integer column: max is an int or None
    s = full.filter(lookup(dense_table(qs, QIDX, None, n_q, False), QIDX)) if qs.height < n_q - 1 else full
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
        need_refl = uses_reflections(fmt, cfg.ablation)
        if need_refl not in pools:
            usable = (pl.col("n_refl") > 0) | (not need_refl)
            small = s.select(QIDX, *cols, "clean", "n_refl")
            unclean = small.filter(~pl.col("clean") & usable).select(QIDX, "is_correct")
            cand = small.filter(pl.col("clean") & usable).select(QIDX, *cols)
            pools[need_refl] = cand, _question_counts(qs, cand, unclean)
        cand, per = pools[need_refl]
        skips = _skips(per, fmt)
        for rep in range(cfg.repeats):
            ctx = PassContext(
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
                cast(int, full["vcode"].max() or 0) + 1,
                qs.select(QIDX, "question_id"),
                star_per_question=cfg.star_per_question,
            )
            skipped.update(skips)
            # the pass's shuffle; then numbers only (candidates are sorted several times a pass)
            keyed = cand.with_columns(seeded_hash(pl.col("rollout_id"), ctx, "shuffle").alias("key")).drop("rollout_id")
            if ctx.unique_variants:
                keyed = by_variant(keyed)
            steps = PICKERS[fmt](keyed, n_per_question(qs, ctx), ctx)
            if steps.height == 0:
                continue
            tr = trace_rows(
                trace_steps(steps.select(QIDX, "k", "pos", "step", "is_final"), sample_cols, refls, ctx), ctx
            )
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
        .sort(QIDX, maintain_order=True)
        .join(qs.drop("question_id"), on=QIDX, how="left", maintain_order="left")
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
    return out.cast(pl.Schema(TRACES))
