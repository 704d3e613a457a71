"""`sf query skill_frequency --run RUN` end to end (a fresh process each time, imports included).

Ours: the CLI, which prints DuckDB's rows directly. Baseline: the same query and the same table through a
Polars frame (`run_query` + `emit`, the path before), whose `.pl()` imports pyarrow. Interleaved, best of N.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _bigrun import big_run
from _common import report

ROOT = Path(__file__).resolve().parent.parent
FRAME_PATH = (
    "import sys\nfrom pathlib import Path\nfrom sfdata import queries\nfrom sfdata.app.cli._common import existing_run\n"
    "from sfdata.output import emit\n"
    "emit(queries.run_query(existing_run(Path(sys.argv[1])), 'skill_frequency'), 'table', None, "
    "title='skill_frequency')"
)


def _time(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return time.perf_counter() - t0, out


def measure(run_path: Path, repeat: int) -> tuple[float, float]:
    ours_cmd = [sys.executable, "-m", "sfdata.app.cli.main", "query", "skill_frequency", "--run", str(run_path)]
    base_cmd = [sys.executable, "-c", FRAME_PATH, str(run_path)]
    ours, base = float("inf"), float("inf")
    for _ in range(repeat):
        t, out_ours = _time(ours_cmd)
        ours = min(ours, t)
        t, out_base = _time(base_cmd)
        base = min(base, t)
    assert out_ours == out_base, "the two paths print different tables"
    return ours, base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--big", type=int, default=1_000_000, help="traces in the second, large run (0: skip)")
    args = ap.parse_args()
    small = big_run(2_000)
    ours, base = measure(small.path, args.repeat)
    extra: dict[str, float] = {}
    note = (
        f"sf query skill_frequency end to end on 2,000 traces, best of {args.repeat}: DuckDB rows printed directly "
        "vs the same table through a Polars frame (imports pyarrow)"
    )
    if args.big and not args.quick:
        big_ours, big_base = measure(big_run(args.big).path, args.repeat)
        extra = {"big_traces": args.big, "big_ours_s": round(big_ours, 3), "big_baseline_s": round(big_base, 3)}
        note += f"; on {args.big:,} traces {big_ours:.2f}s vs {big_base:.2f}s"
    report("sf_query", ours, base, "s", note, higher_is_better=False, **extra)


if __name__ == "__main__":
    main()
