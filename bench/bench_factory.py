"""Trace assembly: our vectorised build vs a straightforward reimplementation of the official
script's algorithm (row-wise pandas iteration), on the same synthetic raw dataset in the
published schema: 100k questions x 4 prompt variants x 2 responses, one reflection each.

Both produce `*C`, `*C*IC` and `*CC` traces with the same rules (valid reflections only).
"""

from __future__ import annotations

import argparse
import random
import re
import time

import polars as pl
from _common import best_of, report

from sfdata.factory import phrases
from sfdata.factory.build import BuildConfig, assemble, samples_by_question
from sfdata.hub.raw import RESP

VARIANTS = ["original", "plan_and_execute", "alternatively", "rephrase"]
FORMATS = ("*C", "*C*IC", "*CC")


def raw_dataset(n_questions: int, per_variant: int = 2, seed: int = 0) -> pl.DataFrame:
    """Published raw schema, built with vectorised expressions (no Python loop per row)."""
    rows = n_questions * len(VARIANTS)
    base = pl.DataFrame(
        {
            "q": pl.int_range(0, rows, eager=True) // len(VARIANTS),
            "v": pl.int_range(0, rows, eager=True) % len(VARIANTS),
        }
    )
    cols = []
    for k in range(per_variant):
        h = (pl.col("q") * 7919 + pl.col("v") * 104729 + k * 1299709 + seed).hash(seed=k)
        ok = (h % 100) < 45
        right = (h % 1000) < 850  # reflection verdict matches the grade 85% of the time
        ans = (
            pl.when(ok)
            .then(pl.format("({} + 1) * 2", pl.col("q")))
            .otherwise(pl.format("{} - {}", pl.col("q"), h % 97))
        )
        says_ok = ok == right
        cols += [
            pl.format(
                "Attempt {} for puzzle {}: I combine the numbers step by step.\n<answer>{}</answer>",
                pl.lit(k),
                pl.col("q"),
                ans,
            ).alias(f"r{k}"),
            ok.alias(f"c{k}"),
            ans.alias(f"a{k}"),
            pl.format(
                "Checking the steps of {}.\n<verdict>{}</verdict>",
                ans,
                pl.when(says_ok).then(pl.lit("Correct")).otherwise(pl.lit("Incorrect")),
            ).alias(f"f{k}"),
        ]
    df = base.with_columns(cols)
    r = [f"r{k}" for k in range(per_variant)]
    return df.select(
        pl.format("Use the numbers for puzzle {} to make the target.", pl.col("q")).alias("question"),
        (pl.col("q") * 2 + 2).cast(pl.String).alias("answer"),
        pl.col("v").replace_strict(list(range(4)), VARIANTS, return_dtype=pl.String).alias("prompt_variant"),
        pl.concat_list(r).alias(RESP),
        pl.concat_list([f"c{k}" for k in range(per_variant)]).alias(f"{RESP}__eval_is_correct"),
        pl.concat_list([f"a{k}" for k in range(per_variant)]).alias(f"{RESP}__eval_extracted_answers"),
        pl.concat_list([f"f{k}" for k in range(per_variant)]).alias(f"{RESP}_reflection"),
    )


PHASES: dict[str, float] = {}


def ours(raw: pl.DataFrame) -> int:
    """Raw rows -> long tables (explode, vectorised verdict parse) -> grouped samples -> traces."""
    t0 = time.perf_counter()
    lists = [RESP, f"{RESP}__eval_is_correct", f"{RESP}__eval_extracted_answers", f"{RESP}_reflection"]
    long = (
        raw.with_row_index("row")
        .with_columns(pl.int_ranges(0, pl.col(RESP).list.len()).alias("sample_idx"))
        .explode([*lists, "sample_idx"])
        .with_columns(
            pl.concat_str([pl.col("row"), pl.col("sample_idx")], separator="-").alias("rollout_id"),
            pl.col("question").alias("question_id"),
        )
    )
    rollouts = long.select(
        "rollout_id",
        "question_id",
        pl.col("prompt_variant").alias("variant"),
        "sample_idx",
        pl.col(RESP).alias("response"),
    )
    grades = long.select(
        "rollout_id",
        pl.col(f"{RESP}__eval_extracted_answers").alias("extracted_answer"),
        pl.col(f"{RESP}__eval_is_correct").alias("is_correct"),
    )
    refl = long.select(
        "rollout_id",
        pl.lit(0).alias("reflection_idx"),
        (pl.col("rollout_id") + "-f").alias("reflection_id"),
        pl.col(f"{RESP}_reflection").alias("text"),
        pl.lit(_verdict(long[f"{RESP}_reflection"]))  # validity = this verdict vs the grade (sfdata.validity)
        .replace_strict({True: "Correct", False: "Incorrect"}, default=None, return_dtype=pl.String)
        .alias("verdict"),
    )
    grouped = samples_by_question(rollouts, grades, refl)
    PHASES["ours_group"] = time.perf_counter() - t0
    qids = grouped.question_ids()
    prompts = dict(zip(qids, qids))  # the question text is the user prompt here
    t1 = time.perf_counter()
    df, _ = assemble(grouped, prompts, {}, BuildConfig(formats=FORMATS, n=3))  # all cores for large builds
    PHASES["ours_assemble"] = time.perf_counter() - t1
    return df.height


_VERDICT = re.compile(r"<verdict>\s*(correct|incorrect)\s*</verdict>", re.I)
_SAYS = {v: rf"(?i)<verdict>\s*{v}\s*</verdict>" for v in ("correct", "incorrect")}


def _verdict(text: pl.Series) -> pl.Series:
    """True/False for a first verdict tag of Correct/Incorrect, null without one (what _VERDICT.search reads):
    two literal-prefiltered `contains`; the first position decides only where both spellings occur."""
    says = pl.DataFrame({"t": text}).select(pl.col("t").str.contains(p).alias(v) for v, p in _SAYS.items())
    out = says.select(pl.when(pl.col("correct") | pl.col("incorrect")).then(pl.col("correct"))).to_series()
    both = (says["correct"] & says["incorrect"]).arg_true()
    if both.len():
        first = pl.DataFrame({"t": text.gather(both)}).select(
            pl.col("t").str.find(_SAYS["correct"]) < pl.col("t").str.find(_SAYS["incorrect"])
        )
        out = out.scatter(both, first.to_series())
    return out


def baseline(raw: pl.DataFrame) -> int:
    """The official script's shape: iterate rows, collect per question, filter reflections, assemble."""
    t0 = time.perf_counter()
    df = raw.to_pandas()
    by_q: dict[str, list] = {}
    for _, row in df.iterrows():
        for resp, ok, ans, refl in zip(
            row[RESP],
            row[f"{RESP}__eval_is_correct"],
            row[f"{RESP}__eval_extracted_answers"],
            row[f"{RESP}_reflection"],
        ):
            m = _VERDICT.search(refl or "")
            valid = m is not None and (m.group(1).lower() == "correct") == bool(ok)
            by_q.setdefault(row["question"], []).append(
                (resp, bool(ok), ans, refl if valid else None, row["prompt_variant"])
            )
    PHASES["base_group"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    rng = random.Random(0)
    n = 0
    for _q, samples in by_q.items():
        usable = [s for s in samples if s[3] is not None]
        correct = [s for s in usable if s[1]]
        wrong = [s for s in usable if not s[1]]
        for fmt in FORMATS:
            if not correct or (fmt == "*C*IC" and not wrong) or (fmt == "*CC" and len(correct) < 2):
                continue
            if fmt == "*C":
                seq = rng.sample(wrong, min(2, len(wrong))) + [rng.choice(correct)]
            elif fmt == "*CC":
                seq = rng.sample(wrong, min(1, len(wrong))) + rng.sample(correct, 2)
            else:
                good = rng.choice(correct)
                seq = [good] + rng.sample(wrong, min(2, len(wrong)))
            text = "<think>\n"
            for i, s in enumerate(seq):
                text += f"<sample>\n{s[0]}\n</sample>\n<reflect>\n{s[3]}\n</reflect>\n"
                if i < len(seq) - 1:
                    text += rng.choice(phrases.RETRY if not s[1] else phrases.DOUBLE_CHECK) + "\n"
            text += "</think>\n\n" + rng.choice(phrases.ENDING) + f"\n\n<answer>\n{seq[-1][2]}\n</answer>"
            n += 1
    PHASES["base_assemble"] = time.perf_counter() - t1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--questions", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs, each side (a shared machine is noisy)")
    args = ap.parse_args()
    nq = 10_000 if args.quick else args.questions
    raw = raw_dataset(nq)
    t_ours, n_ours = best_of(lambda: ours(raw), repeat=args.repeat)
    t_base, n_base = best_of(lambda: baseline(raw), repeat=args.repeat)
    best = f"; best of {args.repeat} runs each (phases: last run)" if args.repeat > 1 else ""
    report(
        "trace_factory",
        nq / t_ours,
        nq / t_base,
        "questions/s",
        f"{nq:,} questions x 4 variants x 2 responses; baseline = row-wise pandas reimplementation of the official algorithm"
        f"{best}; grouping alone: ours {PHASES['ours_group']:.2f}s vs row-wise {PHASES['base_group']:.2f}s "
        f"({PHASES['base_group'] / PHASES['ours_group']:.0f}x); assembly: ours {PHASES['ours_assemble']:.2f}s "
        f"(full trace rows: ids, counts, content ids) vs row-wise {PHASES['base_assemble']:.2f}s (text only)",
        traces_ours=n_ours,
        traces_baseline=n_base,
        seconds_ours=round(t_ours, 2),
        seconds_baseline=round(t_base, 2),
        phases={k: round(v, 3) for k, v in PHASES.items()},
    )


if __name__ == "__main__":
    main()
