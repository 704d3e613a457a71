"""Shared helpers for bench scripts: timing and the one-line JSON result run_all.py collects."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Fastest wall time of `repeat` calls (and the last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def report(
    bench: str, ours: float, baseline: float, unit: str, note: str, higher_is_better: bool = True, **extra: Any
) -> None:
    ratio = ours / baseline if higher_is_better else baseline / ours
    print(f"{bench}: ours {ours:,.4g} {unit}, baseline {baseline:,.4g} {unit} -> {ratio:.2f}x  ({note})")
    print(
        json.dumps(
            {
                "bench": bench,
                "ours": ours,
                "baseline": baseline,
                "unit": unit,
                "ratio": round(ratio, 2),
                "note": note,
                **extra,
            }
        )
    )
