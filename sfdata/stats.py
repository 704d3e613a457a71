"""Uncertainty for accuracies: a cell of 6 questions moves by 0.167 with one answer, so every accuracy we
print carries its n (questions) and a 95% interval.

- `wilson(k, n)`: Wilson score interval for a proportion (k may be fractional: the sum of per-question
  means when a question has several samples; n counts questions).
- `paired_bootstrap_diff(a, b)`: difference of two arms' mean scores on the SAME questions, with a
  percentile interval from resampling questions (vectorised, fixed seed, so reruns print the same numbers).
- `WILSON_SQL`: the same Wilson formula as DuckDB SQL text, so the named queries compute what Python does
  (a test checks the two agree).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

Z95 = 1.96


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (lo, hi) for k successes in n trials; (0.0, 1.0) when n == 0 (nothing known)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def wilson_sql(k: str = "k", n: str = "n_questions", z: float = Z95) -> tuple[str, str]:
    """DuckDB expressions (lo, hi) of `wilson` over columns k (DOUBLE) and n (> 0). The named queries hold this
    exact text (a test checks every `ci_lo` / `ci_hi` in them against it), so the formula lives here only."""
    z2 = round(z * z, 6)
    p = f"{k} / {n}"
    center = f"{p} + {z2 / 2:g} / {n}"
    half = f"{z:g} * sqrt({p} * (1 - {p}) / {n} + {z2 / 4:g} / ({n} * {n}))"
    denom = f"(1 + {z2:g} / {n})"
    return f"greatest(0.0, ({center} - {half}) / {denom})", f"least(1.0, ({center} + {half}) / {denom})"


@lru_cache(maxsize=4)  # n=1,000 questions x 10,000 resamples = 40 MB each
def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """The resampled question positions for (n, resamples, seed), fixed by the seed and
    drawn once per report (an experiment table asks for dozens of differences over the same n)."""
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n), dtype=np.int32)
    idx.setflags(write=False)
    return idx


def paired_bootstrap_diff(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(mean(a) - mean(b), lo, hi): a percentile bootstrap over questions, the pairs kept together.

    `a[i]` and `b[i]` are two arms' scores on question i (a per-question mean when it has several samples)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired scores need two equal-length lists (got {x.shape} and {y.shape})")
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    d = x - y
    means = d[_resample_indices(d.size, resamples, seed)].mean(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(d.mean()), float(lo), float(hi)


def fmt_acc(acc: float | None, lo: float | None, hi: float | None, n: int | None) -> str:
    """`0.50 [0.19, 0.81] (6)`: an accuracy as every report prints it."""
    if acc is None or n is None or n == 0:
        return "-"
    return f"{acc:.2f} [{lo:.2f}, {hi:.2f}] ({n})"


def fmt_diff(d: float | None, lo: float | None, hi: float | None) -> str:
    """`+0.25 [-0.10, +0.60]`: a paired difference with its interval."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return "-"
    return f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"
