"""The trace formats, one record each: every list of formats (the CLI's choices, the default build, the default
SFT mix, the sets of their own, the builders' dispatch, the skip rules) derives from `TRACE_FORMATS`.

Plain data (no Polars), so configs, help texts and the planner import it for free.
"""

from __future__ import annotations

from dataclasses import dataclass

MAIN = "main"  # the purpose of the SkillFactory mix's formats


@dataclass(frozen=True)
class TraceFormat:
    code: str  # the `format` column's value
    purpose: str  # the set its traces belong to without an ablation: "main" or its own set (sfdata.factory.mix)
    # how samples are picked: one_correct | ends_correct | per_length | two_correct | backtrack | any | raw_correct
    shape: str
    in_default_build: bool  # built by `sf build` without --formats
    in_default_sft_mix: bool  # read by `sf sft` without --formats (the official script's default)
    uses_reflections: bool  # samples carry their <reflect> (False: no reflections, verdict-neutral glue)
    min_correct: int  # usable correct samples a question needs (fewer: skipped)
    needs_incorrect: bool  # a question also needs an incorrect usable sample
    description: str


TRACE_FORMATS: tuple[TraceFormat, ...] = (
    TraceFormat("0C", MAIN, "one_correct", True, True, True, 1, False, "one correct sample and its reflection"),
    TraceFormat("*C", MAIN, "ends_correct", True, True, True, 1, False, "N-1 usable samples, then a correct one"),
    TraceFormat(
        "*C_full", MAIN, "per_length", True, False, True, 1, False, "one *C trace per length 1..N, each a fresh draw"
    ),
    TraceFormat(
        "*C*IC", MAIN, "backtrack", True, True, True, 1, True, "a correct sample, a later incorrect one, backtrack"
    ),
    TraceFormat("*CC", MAIN, "two_correct", True, True, True, 2, False, "ends with two correct samples, confirm"),
    TraceFormat("random", "random", "any", True, False, True, 0, False, "N samples regardless of correctness"),
    TraceFormat(
        "no_reflection", "no_reflection", "per_length", True, False, False, 1, False, "*C_full without <reflect>"
    ),
    TraceFormat("star", "star", "raw_correct", False, False, False, 1, False, "STaR: correct responses, one row each"),
)
BY_CODE: dict[str, TraceFormat] = {f.code: f for f in TRACE_FORMATS}

FORMATS: tuple[str, ...] = tuple(f.code for f in TRACE_FORMATS)
DEFAULT_FORMATS: tuple[str, ...] = tuple(f.code for f in TRACE_FORMATS if f.in_default_build)
SFT_DEFAULT_FORMATS: tuple[str, ...] = tuple(f.code for f in TRACE_FORMATS if f.in_default_sft_mix)
OWN_SET_FORMATS: tuple[str, ...] = tuple(f.code for f in TRACE_FORMATS if f.purpose != MAIN)
PER_LENGTH_FORMATS: tuple[str, ...] = tuple(f.code for f in TRACE_FORMATS if f.shape == "per_length")
ABLATIONS = ("no_sample_order", "no_reflections", "no_prompt_diversity")


def get_format(code: str) -> TraceFormat:
    try:
        return BY_CODE[code]
    except KeyError:
        raise ValueError(f"unknown format {code!r}; known: {', '.join(FORMATS)}") from None


def uses_reflections(code: str, ablation: str | None) -> bool:
    """Whether samples of this format carry reflections in a build with this ablation."""
    return ablation != "no_reflections" and get_format(code).uses_reflections


def skip_rules(code: str) -> list[tuple[str, str, int]]:
    """Why a question gets no trace of this format, in order: (reason, count column, minimum). Columns:
    n_correct, n_incorrect, n_usable (a question's usable samples of each kind)."""
    f = get_format(code)
    rules = []
    if f.shape == "any":
        rules.append(("no_usable_sample", "n_usable", 1))
    if f.min_correct == 1:
        rules.append(("no_correct", "n_correct", 1))
    elif f.min_correct >= 2:
        rules.append(("fewer_than_two_correct", "n_correct", f.min_correct))
    if f.needs_incorrect:
        rules.append(("no_incorrect", "n_incorrect", 1))
    return rules
