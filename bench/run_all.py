"""Run every bench/bench_*.py, collect each one's final JSON line, write bench/RESULTS.md.

Each script measures our path and a baseline in the same run (see docs/ARCHITECTURE.md), so
the ratios are comparable across machines even when the absolute numbers are not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(script: Path, quick: bool, timeout: float) -> dict:
    cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {"bench": script.stem, "error": f"timed out after {timeout:.0f}s"}
    wall = time.perf_counter() - t0
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"bench": script.stem, "error": f"exit {proc.returncode}: " + " | ".join(tail)}
    for line in reversed(proc.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                out = json.loads(line)
            except json.JSONDecodeError:
                continue
            out["wall_s"] = round(wall, 1)
            return out
    return {"bench": script.stem, "error": "no JSON result line"}


def fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)


def write_results(results: list[dict], path: Path, quick: bool) -> None:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Benchmark results",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {os.cpu_count()} CPU cores ({cpu}), "
        f"Python {platform.python_version()}{' (--quick sizes)' if quick else ''}. "
        "Each row times our path and a baseline in the same run; ratio > 1 means ours is faster/better.",
        "",
        "| bench | ours | baseline | unit | ratio | note | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['bench']} | - | - | - | - | ERROR: {r['error']} | - |")
        elif "skipped" in r:
            lines.append(f"| {r['bench']} | - | - | - | - | skipped: {r['skipped']} | - |")
        else:
            lines.append(
                f"| {r.get('bench')} | {fmt(r.get('ours'))} | {fmt(r.get('baseline'))} | {r.get('unit', '')} | "
                f"**{fmt(r.get('ratio'))}x** | {r.get('note', '')} | {r.get('wall_s', '')} |"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (each script's --quick)")
    ap.add_argument("--only", nargs="*", help="bench names to run (e.g. bench_grader)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per script")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem in args.only]
    results = []
    for s in scripts:
        print(f"== {s.name}", flush=True)
        results.append(run_one(s, args.quick, args.timeout))
    write_results(results, args.out, args.quick)
    print(args.out.read_text())
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
