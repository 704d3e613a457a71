"""Concurrent exports into one folder keep every dataset_info.json entry and never share a temp name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.synth import make_run

ROOT = Path(__file__).resolve().parents[3]
WORKER = """
import sys
from sfdata.hub.export import export
run, out, who = sys.argv[1:4]
for i in range(6):
    export(run, "sharegpt", out, name=f"{who}_{i}")
    export(run, "verl", out)
"""


def test_concurrent_sharegpt_and_verl_exports_keep_every_entry(tmp_path):
    from sfdata.factory.build import BuildConfig, build_stage

    run = make_run(tmp_path / "r", n_questions=2)
    build_stage(run, BuildConfig(formats=("0C",), n=1))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(run.path), str(out), f"w{k}"],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for k in range(6)
    ]
    errs = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errs
    info = json.loads((out / "dataset_info.json").read_text())
    assert sorted(info) == sorted(f"w{k}_{i}" for k in range(6) for i in range(6))
    assert all((out / info[n]["file_name"]).is_file() for n in info)
    assert sorted(p.name for p in (out / "verl").iterdir() if not p.name.startswith(".")) == [
        "reward.py", "train.parquet", "val.parquet"
    ]  # fmt: skip
    assert not [p for p in out.rglob("*.tmp")]


def test_an_unreadable_dataset_info_is_an_error_not_overwritten(tmp_path):
    import pytest

    from sfdata.factory.build import BuildConfig, build_stage
    from sfdata.hub.export import export

    run = make_run(tmp_path / "r", n_questions=2)
    build_stage(run, BuildConfig(formats=("0C",), n=1))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "dataset_info.json").write_text("{broken")
    with pytest.raises(ValueError, match="dataset_info.json: not readable JSON"):
        export(run.path, "sharegpt", tmp_path / "out", name="x")
    assert (tmp_path / "out" / "dataset_info.json").read_text() == "{broken"
