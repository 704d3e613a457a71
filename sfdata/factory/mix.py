"""What each trace is for: the default SFT mix, or a named extra set used only when asked.

Every trace row carries `purpose`. `main` is the SkillFactory mix (`0C`, `*C`, `*C_full`,
`*C*IC`, `*CC` built without an ablation); `random`, `no_reflection` and `star` (the STaR
baseline) are their own sets; a build with an ablation tags all of its traces with the
ablation's name. So `sf sft` on a run trains by default on the official script's default
formats of the main set only, and an ablation build never joins them silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sfdata.factory.registry import ABLATIONS, BY_CODE, FORMATS, MAIN, OWN_SET_FORMATS, SFT_DEFAULT_FORMATS

__all__ = ["MAIN", "OWN_SET_FORMATS", "PURPOSES", "SFT_DEFAULT_FORMATS", "purpose_of", "select_traces", "selection"]
PURPOSES = (MAIN, *OWN_SET_FORMATS, *ABLATIONS)


def purpose_of(fmt: str, ablation: str | None) -> str:
    """The set a trace of this format and ablation belongs to."""
    if ablation:
        return ablation
    return BY_CODE[fmt].purpose if fmt in BY_CODE else MAIN


def purpose_col() -> pl.Expr:
    """`purpose`, derived from format and ablation where it is null (traces pulled from the Hub, older runs)."""
    derived = (
        pl.when(pl.col("ablation").is_not_null())
        .then(pl.col("ablation"))
        .when(pl.col("format").is_in(list(OWN_SET_FORMATS)))
        .then(pl.col("format"))
        .otherwise(pl.lit(MAIN))
    )
    return pl.coalesce(pl.col("purpose"), derived).alias("purpose")


def selection(names: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(sets, formats) named by a user's list of trace formats and/or set names.

    No names: the main set's default formats. Formats alone: those formats of the main set (and
    `random`/`no_reflection`/`star`, which name their own sets). Set names (`main`, an ablation)
    choose the sets; formats named beside them narrow the formats.
    """
    names = list(names or [])
    unknown = [n for n in names if n not in FORMATS and n not in PURPOSES]
    if unknown:
        raise ValueError(
            f"unknown trace format or set {unknown}; formats: {', '.join(FORMATS)}; sets: {', '.join(PURPOSES)}"
        )
    formats = [n for n in names if n in FORMATS]
    sets = [n for n in names if n in PURPOSES and n not in FORMATS]
    if not sets:
        sets = [MAIN, *(f for f in formats if f in OWN_SET_FORMATS)]
    return sets, formats


def select_traces(traces: pl.DataFrame, names: Sequence[str] | None = None) -> pl.DataFrame:
    """The traces an SFT run reads: see `selection`. Formats we never build (pulled data) count as defaults."""
    sets, formats = selection(names)
    if "purpose" not in traces.columns:
        traces = traces.with_columns(pl.lit(None, pl.String).alias("purpose"))
    df = traces.with_columns(purpose_col())
    keep = pl.col("purpose").is_in(sets)
    if formats:
        keep &= pl.col("format").is_in(formats)
    else:
        keep &= (
            pl.col("format").is_in(list(SFT_DEFAULT_FORMATS))
            | ~pl.col("format").is_in(list(FORMATS))
            | pl.col("purpose").is_in(list(OWN_SET_FORMATS))
        )
    return df.filter(keep)
