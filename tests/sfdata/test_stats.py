"""Wilson intervals against known values; the paired bootstrap is deterministic and covers the true difference."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from sfdata.stats import fmt_acc, fmt_diff, paired_bootstrap_diff, wilson, wilson_sql


@pytest.mark.parametrize(
    "k,n,lo,hi",
    [(0, 6, 0.0, 0.390), (3, 6, 0.188, 0.812), (6, 6, 0.610, 1.0), (8, 10, 0.490, 0.943), (0.5, 1, 0.0546, 0.9454)],
)
def test_wilson_known_values(k, n, lo, hi):
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-3)


def test_wilson_of_nothing_is_the_whole_range():
    assert wilson(0, 0) == (0.0, 1.0)


def test_wilson_sql_matches_python():
    lo, hi = wilson_sql()
    for k, n in [(0, 6), (3, 6), (6, 6), (2.5, 7), (1, 1)]:
        got = duckdb.sql(f"SELECT {lo}, {hi} FROM (SELECT {float(k)} AS k, {n} AS n_questions)").fetchall()[0]
        assert got == pytest.approx(wilson(k, n), abs=1e-12)


def test_paired_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(1)
    a, b = rng.random(30), rng.random(30)  # per-question means of several samples
    assert paired_bootstrap_diff(a, b, seed=3) == paired_bootstrap_diff(a, b, seed=3)
    assert paired_bootstrap_diff(a, b, seed=3)[1:] != paired_bootstrap_diff(a, b, seed=4)[1:]


def test_paired_bootstrap_covers_the_true_difference():
    """Arms with true accuracies 0.7 and 0.4 on 200 shared questions: the interval holds 0.3 and excludes 0."""
    rng = np.random.default_rng(0)
    u = rng.random(200)
    a, b = (u < 0.7).astype(float), (u < 0.4).astype(float)  # paired: b's correct questions are a subset of a's
    d, lo, hi = paired_bootstrap_diff(a, b)
    assert d == pytest.approx(a.mean() - b.mean())
    assert lo < 0.3 < hi and lo > 0
    assert hi - lo < 0.2  # pairing: far tighter than two independent Wilson intervals would allow


def test_paired_bootstrap_of_equal_arms_is_zero_and_rejects_unpaired():
    assert paired_bootstrap_diff([1, 0, 1], [1, 0, 1]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="equal-length"):
        paired_bootstrap_diff([1, 0], [1])


def test_formats():
    assert fmt_acc(0.5, *wilson(3, 6), 6) == "0.50 [0.19, 0.81] (6)"
    assert fmt_acc(None, None, None, 0) == "-"
    assert fmt_diff(0.25, -0.1, 0.6) == "+0.25 [-0.10, +0.60]"
