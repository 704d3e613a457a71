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


def best_of_interleaved(fns: list[Callable[[], Any]], repeat: int = 5) -> list[tuple[float, Any]]:
    """`best_of` for several callables run in turn (a, b, a, b, ...): a load spike or a CPU clock change
    hits both sides instead of whichever ran its block second. One untimed warm-up call each first."""
    outs = [fn() for fn in fns]
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return list(zip(best, outs, strict=True))


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
