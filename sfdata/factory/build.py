"""Build stage: rollouts + grades + valid reflections -> SkillFactory traces.

A reflection is valid when its verdict states the rollout's current grade (`sfdata.validity`), so a build
after a regrade uses the new grades throughout; `sf run` then replaces the traces built from the old ones.

All vectorised: `samples_by_question` turns the run's tables into a flat sample table
(side by side when written in one rollout order, else joined), and `sfdata.factory.vectorised` picks and stitches every format's
traces with Polars expressions (no Python per trace). Randomness is a seeded hash of stable ids,
so results do not depend on processing order and a resumed build reproduces the same ids.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

from sfdata.factory.registry import ABLATIONS, DEFAULT_FORMATS, FORMATS, get_format
from sfdata.factory.vectorised import assemble_frames
from sfdata.grammar import STRUCTURAL_TAG_PATTERN
from sfdata.stagecfg import check_ranges, opt
from sfdata.store import RunDir
from sfdata.store.run import now_utc
from sfdata.validity import is_valid_expr


@dataclass
class BuildConfig:
    """`[build]` section and `sf build` flags."""

    formats: tuple[str, ...] = opt(
        DEFAULT_FORMATS, "trace formats (star = the STaR baseline)", choices=FORMATS, metavar="FORMAT"
    )
    n: int = opt(3, "samples per trace (upper bound; formats use what the question has)", min=1)
    n_range: tuple[int, ...] | None = opt(
        None, "sampled N: draw N uniformly from [LO, HI] per trace", nargs=2, metavar=("LO", "HI")
    )
    repeats: int = opt(1, "traces per question and format", min=1)
    unique_variants: bool = opt(True, "prefer samples from different prompt variants within a trace")
    ablation: str | None = opt(None, "paper ablation", choices=ABLATIONS)
    variant: str = opt("original", "the one variant kept by no_prompt_diversity")
    seed: int = opt(0, "trace RNG seed")
    star_per_question: int = opt(
        0, "STaR baseline: correct samples per question, one trace each (0 = every correct sample)", min=0
    )
    chunk: int = opt(5000, "traces per part file", min=1)
    workers: int = opt(0, "question chunks assembled on threads (0: one vectorised pass; Polars uses all cores)", min=0)

    def __post_init__(self) -> None:
        self.formats = tuple(self.formats)
        if self.n_range is not None:
            self.n_range = tuple(self.n_range)
        self.validate()

    def validate(self) -> None:
        check_ranges(self)  # every number (chunk, n, repeats, workers) before any work
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise ValueError(f"unknown format(s) {bad}; known: {', '.join(FORMATS)}")
        if self.ablation is not None and self.ablation not in ABLATIONS:
            raise ValueError(f"unknown ablation {self.ablation!r}; known: {', '.join(ABLATIONS)}")
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if self.n_range is not None and (len(self.n_range) != 2 or not 1 <= self.n_range[0] <= self.n_range[1]):
            raise ValueError("n_range must be [lo, hi] with 1 <= lo <= hi")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")
        if self.star_per_question < 0:
            raise ValueError("star_per_question must be >= 0 (0 = every correct sample)")


def max_traces_per_question(fmt: str, cfg: BuildConfig, samples: int) -> int:
    """Upper bound of one question's traces of `fmt` per repeat, with `samples` graded samples per question
    (*C_full / no_reflection: one per length; star: one per correct sample, capped; others: one)."""
    shape = get_format(fmt).shape
    if shape == "per_length":
        return max(1, min(cfg.n_range[1] if cfg.n_range else cfg.n, samples))
    if shape == "raw_correct":
        return samples if cfg.star_per_question <= 0 else min(cfg.star_per_question, samples)
    return 1


@dataclass
class SampleTable:
    """Graded samples of many questions, flat: what the vectorised passes read.

    `samples`: one row per sample, rows of a question contiguous (sorted by question, variant,
    sample index), with `n_refl` valid reflections each; `refls`: those reflections, flat and in
    the same order. Response and reflection texts are stripped (as they appear in traces). Flat columns convert to Python ~30x faster than nested lists per question.
    """

    samples: pl.DataFrame
    refls: pl.DataFrame

    @property
    def height(self) -> int:
        """Number of questions."""
        return self.samples["question_id"].n_unique()

    def question_ids(self) -> list[str]:
        """In table order: a question's rows are contiguous, so its first row marks it (no hashing)."""
        q = self.samples["question_id"]
        return q.filter(q.rle_id().is_first_distinct()).to_list()

    def chunks(self, k: int) -> list[SampleTable]:
        """About `k` pieces on question boundaries."""
        sizes = self.samples.group_by("question_id", maintain_order=True).agg(pl.len(), pl.col("n_refl").sum())
        rows, refl = sizes["len"].to_list(), sizes["n_refl"].to_list()
        per = -(-len(rows) // max(1, k))
        out, s0, r0 = [], 0, 0
        for q0 in range(0, len(rows), per):
            ns, nr = sum(rows[q0 : q0 + per]), sum(refl[q0 : q0 + per])
            out.append(SampleTable(self.samples.slice(s0, ns), self.refls.slice(r0, nr)))
            s0, r0 = s0 + ns, r0 + nr
        return out


def samples_by_question(rollouts: pl.DataFrame, grades: pl.DataFrame, reflections: pl.DataFrame) -> SampleTable:
    """Join rollouts, grades and valid reflections into a flat SampleTable (all vectorised).

    Valid: the reflection's `verdict` states the rollout's grade in `grades` (its stored `is_valid` is ignored).

    Responses and reflection texts come out stripped (what every trace holds). Tables written in the
    same rollout order are put side by side after one comparison of their ids instead of a hash join,
    and the question order is one sort of packed integer ranks instead of a four-column string sort.
    """
    ro = rollouts.select("rollout_id", "question_id", "variant", "sample_idx", "response")
    joined = _by_rollout(ro, grades.select("rollout_id", "extracted_answer", "is_correct"))
    order = _question_order(joined)
    row_to_pos = order.arg_sort()  # inverse permutation: original row -> sorted position
    # valid = the verdict states the CURRENT grade (sfdata.validity), not the flag stored at reflect time
    valid_now = is_valid_expr("verdict", "_grade")
    if _aligned(joined, reflections):  # one row per joined rollout, same order: its row is its rollout's row
        grade = joined["is_correct"].alias("_grade")
        valid = reflections.with_columns(row_to_pos.alias("pos"), grade).filter(valid_now)
    else:
        rows = joined.select("rollout_id", pl.col("is_correct").alias("_grade")).with_columns(row_to_pos.alias("pos"))
        valid = reflections.join(rows, on="rollout_id", how="inner").filter(valid_now)
    valid = valid.select("pos", "reflection_idx", "reflection_id", pl.col("text").str.strip_chars())
    valid = valid[_refl_order(valid)]
    n_refl = pl.repeat(0, joined.height, dtype=pl.UInt32, eager=True)
    if valid.height:  # valid is sorted by pos: its runs are the counts (no hashing)
        runs = valid["pos"].rle().struct.unnest()
        n_refl = n_refl.scatter(runs["value"], runs["len"].cast(pl.UInt32))
    samples = joined[order].with_columns(pl.col("response").fill_null("").str.strip_chars())  # stripped once
    no_tag = ~pl.col("response").str.contains(STRUCTURAL_TAG_PATTERN)  # the regex of formats.is_clean
    clean = (pl.col("response") != "") & pl.col("extracted_answer").is_not_null() & no_tag
    samples = samples.with_columns(clean.alias("clean"), pl.col("is_correct").fill_null(False), n_refl.alias("n_refl"))
    return SampleTable(samples, valid.select("reflection_id", "text"))


def _aligned(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Same rollout ids in the same order (tables written together): no join needed."""
    ra, rb = a["rollout_id"], b["rollout_id"]  # (a null id never joins: not aligned, so the join drops it)
    return a.height == b.height and ra.dtype == rb.dtype and bool(ra.equals(rb, null_equal=False))


def _refl_order(valid: pl.DataFrame) -> pl.Series:
    """Row order by (pos, reflection_idx, reflection_id): the two integers packed into one (one numeric
    sort); duplicates of the pair, rare, fall back to the full sort."""
    idx = valid["reflection_idx"]
    if valid.height == 0 or idx.null_count() or idx.min() < 0 or idx.max() >= 1 << 32:
        return valid.with_row_index("_row").sort("pos", "reflection_idx", "reflection_id", maintain_order=True)["_row"]
    packed = valid.select(pl.col("pos").cast(pl.UInt64) * (1 << 32) + pl.col("reflection_idx").cast(pl.UInt64))
    order = packed.to_series().arg_sort()
    if _has_ties(packed.to_series().gather(order)):
        return valid.with_row_index("_row").sort("pos", "reflection_idx", "reflection_id", maintain_order=True)["_row"]
    return order


def _has_ties(ordered: pl.Series) -> bool:
    return bool((ordered == ordered.shift(1)).any())


def _by_rollout(rollouts: pl.DataFrame, grades: pl.DataFrame) -> pl.DataFrame:
    """Inner join on rollout_id; side by side when the grades are in the rollouts' order."""
    if _aligned(rollouts, grades):
        return pl.concat([rollouts, grades.drop("rollout_id")], how="horizontal")
    return rollouts.join(grades, on="rollout_id", how="inner")


def _question_order(df: pl.DataFrame) -> pl.Series:
    """Row order by (question_id, variant, sample_idx, rollout_id): question and variant as dense ranks
    packed with sample_idx into one integer (one numeric sort; ties, rare, fall back to the full sort)."""
    keys = ("question_id", "variant", "sample_idx", "rollout_id")
    if df.height == 0:
        return pl.Series("order", [], dtype=pl.UInt32)
    variants = df["variant"].drop_nulls().unique().sort()  # few: an Enum's codes are their sorted ranks
    ranks = df.select(
        pl.col("question_id").rank("dense").cast(pl.UInt64).alias("q"),
        pl.col("variant").cast(pl.Enum(variants)).to_physical().cast(pl.UInt64).alias("v"),
        pl.col("sample_idx").cast(pl.Int64).alias("i"),
    )
    q, v, i = ranks.select(pl.all().max()).row(0)
    simple = ranks.null_count().sum_horizontal().item() == 0 and q < 1 << 32 and v < 1 << 12
    simple = simple and 0 <= ranks["i"].min() and i < 1 << 20
    if simple:
        packed = ranks.select(pl.col("q") * (1 << 32) + pl.col("v") * (1 << 20) + pl.col("i").cast(pl.UInt64))
        order = packed.to_series().arg_sort()  # no ties (checked below), so stability does not matter
        if not _has_ties(packed.to_series().gather(order)):
            return order
    return df.with_row_index("_row").sort(*keys, maintain_order=True)["_row"]


def question_prompts(questions: pl.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """User message per question: the `original` prompt variant when the task is registered."""
    from sfdata import prompts as pv
    from sfdata.tasks import Question, get_task

    out, tasks, cache = {}, {}, {}
    for row in questions.iter_rows(named=True):
        q = Question.from_row(row)
        tasks[q.question_id] = q.task
        try:
            task = cache.setdefault(q.task, get_task(q.task))
            out[row["question_id"]] = pv.render("original", task, q)
        except KeyError:
            out[row["question_id"]] = q.question
    return out, tasks


def build_traces(run: RunDir, cfg: BuildConfig) -> tuple[pl.DataFrame, Counter]:
    """All traces of `cfg` for a run, in memory (deterministic), plus skip counts."""
    cfg.validate()
    rollouts, grades = run.read("rollouts"), run.read("grades")
    if rollouts.height == 0 or grades.height == 0:
        raise FileNotFoundError(f"{run.path} needs graded rollouts; run `sf generate` and `sf grade` first")
    grouped = samples_by_question(rollouts, grades, run.read("reflections"))
    prompts, tasks = question_prompts(run.read("questions"))
    df, skipped = assemble(grouped, prompts, tasks, cfg)
    return df.unique("trace_id", keep="first", maintain_order=True), skipped


def assemble(
    grouped: SampleTable, prompts: dict[str, str], tasks: dict[str, str], cfg: BuildConfig
) -> tuple[pl.DataFrame, Counter]:
    """Traces for the grouped samples: vectorised Polars passes (sfdata.factory.vectorised).

    Randomness is a seeded hash of stable ids, so a question's traces do not depend on the other
    questions: `workers` > 1 splits the questions into chunks assembled on threads (Polars releases
    the GIL) and concatenates them in order, equal row for row to one pass. 0 = one pass, which
    already uses Polars' thread pool.
    """
    cfg.validate()
    created = now_utc()
    if cfg.workers <= 1 or grouped.height < 2 * cfg.workers:
        return assemble_frames(grouped.samples, grouped.refls, prompts, tasks, cfg, created)
    from concurrent.futures import ThreadPoolExecutor

    parts = grouped.chunks(cfg.workers)
    with ThreadPoolExecutor(cfg.workers) as pool:
        done = list(pool.map(lambda p: assemble_frames(p.samples, p.refls, prompts, tasks, cfg, created), parts))
    skipped: Counter = Counter()
    for _, sk in done:
        skipped.update(sk)
    return pl.concat([df for df, _ in done], how="vertical"), skipped


def build_stage(run: RunDir, cfg: BuildConfig, replace: bool = False) -> dict[str, Any]:
    """Reads `questions`, `rollouts`, `grades`, `reflections`; adds this config's traces to `traces`
    (resumable: existing ids are skipped).

    `replace=True` swaps in a traces table holding exactly this build (e.g. after changing N),
    written beside the old one and moved into place, so a crash never leaves a half table.
    """
    t0 = time.perf_counter()
    df, skipped = build_traces(run, cfg)
    if replace:
        replace_parts(run, "traces", df, cfg.chunk)
        have: set[str] = set()
        todo = df
    else:
        have = run.ids("traces")
        todo = df.filter(~pl.col("trace_id").is_in(list(have))) if have else df
        for c0 in range(0, todo.height, cfg.chunk):
            run.append("traces", todo.slice(c0, cfg.chunk))
    per_format = dict(df.group_by("format").len().sort("format").iter_rows()) if df.height else {}
    per_purpose = dict(df.group_by("purpose").len().sort("purpose").iter_rows()) if df.height else {}
    stale = len(have - set(df["trace_id"].to_list())) if have else 0
    return {
        "traces": df.height,
        "written": todo.height,
        "existing": df.height - todo.height,
        "other_traces_kept": stale,
        "per_format": per_format,
        "per_purpose": per_purpose,  # main = what `sf sft` reads by default; others only when named
        "skipped": dict(sorted(skipped.items())),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def replace_parts(run: RunDir, table: str, df: pl.DataFrame, chunk: int) -> None:
    """Write `df` as the whole of a parts table (the store's atomic replace)."""
    run.replace(table, df, chunk)
