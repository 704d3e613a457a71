"""Every bench script runs end to end at its smallest size and ends with the one-line JSON result.

Each script runs as `python bench/NAME.py` (as `make bench` does) in a subprocess, importing the installed
package. Sizes are the scripts' own size flags at a few hundred rows: this checks the code paths, not speed.

Skipped, and why:
- bench_generation.py: a real model generating (SmolLM2 on CPU; minutes), covered by the slow engine tests;
- bench_engine_overhead.py: a real model (transformers, and vLLM in the engines venv) for minutes; run by `make bench-engines`;
- bench_contention.py: child processes per figure beside busy neighbours (minutes by design);
- attacks.py: about two minutes of concurrent writers and servers (the README's Reliability tally);
- run_all.py: runs all of the above; _common.py / _bigrun.py: helpers, not scripts.
bench_grader_rg.py prints a `skipped` line when reasoning-gym is not installed (it is not a dependency).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"bench", "ours", "baseline", "unit", "ratio", "note"}

SMOKE = {
    "bench_factory.py": ["--questions", "300"],
    "bench_grader.py": ["--n", "500"],
    "bench_grader_rg.py": ["--questions", "50"],
    "bench_openai_client.py": ["--quick", "--delay", "0.01", "--concurrency", "8"],
    "bench_parsing.py": ["--size", "20000"],
    "bench_sf_query.py": ["--big", "0", "--repeat", "1"],
    "bench_skills_sql.py": ["--traces", "2000"],
    "bench_tui_open.py": ["--traces", "2000"],
    "bench_tui_ops.py": ["--traces", "2000", "--repeat", "1", "--label-traces", "500"],
}
SKIPPED = {
    "bench_generation.py",
    "bench_contention.py",
    "bench_engine_overhead.py",
    "attacks.py",
    "run_all.py",
    "_common.py",
    "_bigrun.py",
}


def test_every_bench_script_is_smoked_or_listed_as_skipped():
    assert {p.name for p in (ROOT / "bench").glob("*.py")} == set(SMOKE) | SKIPPED


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_bench_script_ends_with_its_json_line(script, tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *SMOKE[script]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = json.loads(done.stdout.strip().splitlines()[-1])
    if last.get("skipped"):  # an optional baseline library is missing
        assert script == "bench_grader_rg.py"
        return
    assert KEYS <= last.keys()
    assert last["ours"] > 0 and last["baseline"] > 0 and last["ratio"] > 0
