"""A copied part (every id twice): `sf sql`, `sf query` and `sf report` count each id once and warn once,
naming both files (as `RunDir.read` does), and a clean run is checked once per file set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sfdata.synth import make_run

ROOT = Path(__file__).resolve().parents[3]


def sf(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SF_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "sfdata.app", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
    root = tmp_path_factory.mktemp("dup")
    run = make_run(root / "r", n_questions=4, n=2, k=1)
    rollouts = run.files("rollouts")
    assert len(rollouts) == 1 and run.read("rollouts").height > 0
    copy = rollouts[0].with_name("part-99999999999999999999-copy.parquet")  # sorts last: the original is first
    shutil.copyfile(rollouts[0], copy)
    return run, rollouts[0], copy


def _warned(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "duplicate row(s) of rollouts" in line]


def test_sf_sql_counts_each_id_once_and_warns_once_naming_both_files(copied, tmp_path):
    run, first, copy = copied
    want = run.read("rollouts").height  # RunDir.read keeps the first row per id
    p = sf(
        "sql",
        "SELECT count(*) AS n, count(DISTINCT rollout_id) AS d FROM rollouts",
        "--run",
        str(run.path),
        "--format",
        "csv",
        cache=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["n,d", f"{want},{want}"]
    lines = _warned(p.stderr)
    assert len(lines) == 1, p.stderr
    assert f"rollouts/{first.name}" in lines[0] and f"rollouts/{copy.name}" in lines[0]
    assert f"{want:,} duplicate row(s)" in lines[0]


def test_sf_query_and_graded_view_count_each_id_once(copied, tmp_path):
    run, _, _ = copied
    want = run.read("grades").height
    p = sf("query", "grade_reasons", "--run", str(run.path), "--format", "csv", cache=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = [r.split(",") for r in p.stdout.split()[1:]]
    header = p.stdout.split()[0].split(",")
    assert sum(int(r[header.index("n")]) for r in rows) == want  # graded = rollouts x grades, once per id
    assert len(_warned(p.stderr)) == 1


def test_sf_report_counts_each_id_once_and_warns_once(copied, tmp_path):
    run, _, _ = copied
    from sfdata.report import summary

    with pytest.warns(UserWarning, match="duplicate row") as got:
        counts = summary(run)["counts"]
    assert counts["rollouts"] == run.read("rollouts").height
    p = sf("report", str(run.path), cache=tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(_warned(p.stderr)) == 1, p.stderr
    assert any("duplicate row(s) of rollouts" in str(w.message) for w in got)


def test_a_clean_file_set_is_scanned_once_then_remembered_on_disk(tmp_path, monkeypatch):
    from sfdata.store import duck

    monkeypatch.setenv("SF_CACHE", str(tmp_path / "cache"))
    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1)
    files = run.files("rollouts")
    marker = duck._clean_marker("rollouts", files)
    assert marker is not None and not marker.exists()
    con = duck.connect(run, tables={"rollouts"}, first_per_id=True)
    con.close()
    assert marker.is_file()  # the next process reads this instead of scanning the ids
    shutil.copyfile(files[0], files[0].with_name("part-99999999999999999999-copy.parquet"))
    assert duck._clean_marker("rollouts", run.files("rollouts")) != marker  # a new file set: checked again
