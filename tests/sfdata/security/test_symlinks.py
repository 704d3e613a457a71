"""Writers never act through a symbolic link inside a run; a run that is itself a link (or under one) works."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from sfdata.store import RunDir
from sfdata.store.lock import file_lock, run_lock
from sfdata.store.parquet import SchemaError
from tests.sfdata.store.test_store import _rollouts


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_a_linked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    run = RunDir(tmp_path / "run").init()
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (run.path / ".lock").unlink(missing_ok=True)
    os.symlink(target, run.path / ".lock")
    with pytest.raises(OSError, match="symbolic link"):
        with run.lock():
            pass
    with pytest.raises(OSError, match="symbolic link"):
        with run_lock(run.path):
            pass
    assert target.read_text() == "keep me\n"


def test_a_linked_label_lock_is_refused(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    os.symlink(target, tmp_path / ".lock.labels.parquet")
    with pytest.raises(OSError, match="symbolic link"):
        with file_lock(tmp_path / "labels.parquet"):
            pass
    assert target.read_text() == "keep me\n"


def test_cleanup_never_deletes_through_a_linked_folder(tmp_path):
    run = RunDir(tmp_path / "run").init()
    outside = tmp_path / "outside"
    outside.mkdir()
    dead = "999999999"  # a pid that is not running: these names look like a killed writer's temps
    (outside / f".x.parquet.pid{dead}.0123abcd.tmp").write_text("not ours")
    (outside / f".d.pid{dead}.0123abcd.tmp").mkdir()
    (outside / f".d.pid{dead}.0123abcd.tmp" / "f").write_text("not ours")
    os.symlink(outside, run.path / "traces")
    os.symlink(outside, run.path / f".t.pid{dead}.0123abcd.tmp")  # a link that looks like a temp folder
    before = _snapshot(outside)
    with run_lock(run.path):
        pass
    assert _snapshot(outside) == before
    assert not os.path.lexists(run.path / f".t.pid{dead}.0123abcd.tmp")  # the link itself is removed
    os.symlink(outside, run.path / "rollouts")
    with pytest.raises(OSError, match="symbolic link"):  # a part is never written through a linked table folder
        run.append("rollouts", _rollouts(2))
    assert _snapshot(outside) == before


def test_a_run_that_is_a_link_or_under_one_works(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    RunDir(real / "run").init()
    os.symlink(real, tmp_path / "parent_link")
    os.symlink(real / "run", tmp_path / "run_link")
    for path in (tmp_path / "parent_link" / "run", tmp_path / "run_link"):
        run = RunDir(path)
        with run.lock():
            run.append("rollouts", _rollouts(2, start=len(run.ids("rollouts"))))
            run.set_stage("generate", "done")
    assert RunDir(real / "run").read("rollouts").height == 4
    assert not (real / "run" / ".lock").is_symlink()


def test_a_null_id_is_refused_at_write(tmp_path):
    run = RunDir(tmp_path / "run").init()
    bad = _rollouts(2).with_columns(rollout_id=pl.Series([None, "r1"], dtype=pl.String))
    with pytest.raises(SchemaError, match="null rollout_id"):
        run.append("rollouts", bad)
    assert run.files("rollouts") == []
