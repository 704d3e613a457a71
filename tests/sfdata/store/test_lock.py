"""One writer per run, under real concurrent processes: the run lock, manifest updates, duplicates, temps."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import polars as pl
import pytest

from sfdata.engines.base import Completion
from sfdata.serve import serve_in_thread
from sfdata.store import RunDir
from sfdata.store.lock import RunBusyError, run_lock
from sfdata.store.tempfiles import clean_stale_temps
from sfdata.synth import make_run
from sfdata.tasks import make_questions

ROOT = Path(__file__).resolve().parents[3]
DEAD_PID = 2**22 + 12345  # above Linux's default pid_max (4194304 = 2**22): never a live process


def sf(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "sfdata.app.cli.main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


class SlowEngine:
    """Answers every prompt after a short pause, so a writer is still running when the second one starts."""

    name = "fake"
    model = "fake"

    def generate(self, prompts, sampling):
        time.sleep(0.2)
        return [[Completion(f"<answer>{i}</answer>", 5, 3) for i in range(sampling.n)] for _ in prompts]

    def chat_text(self, messages):
        return str(messages)

    def close(self):
        pass


def wait_for_holder(run: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Block until `proc` holds the run lock (its pid is in RUN/.lock and the lock is taken)."""
    deadline = time.monotonic() + timeout
    lock_file = run / ".lock"
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if lock_file.is_file() and lock_file.read_text().startswith(f"{proc.pid}\t"):
            return
        time.sleep(0.05)
    raise AssertionError("the first writer never took the run lock")


def test_two_sf_generate_on_one_run_one_is_refused_and_no_row_is_doubled(tmp_path):
    run = RunDir(tmp_path / "r")
    run.init()
    run.write("questions", make_questions("countdown", 3, 0, level=3))
    srv, url = serve_in_thread(SlowEngine())
    try:
        cmd = ["generate", str(run.path), "--engine", "openai", "--base-url", url, "--model", "fake"]
        cmd += ["--n", "2", "--chunk", "2", "--variants", "original", "rephrase"]
        first = sf(*cmd)
        wait_for_holder(run.path, first)
        second = sf(*cmd)
        out2, err2 = second.communicate(timeout=300)
        out1, err1 = first.communicate(timeout=300)
    finally:
        srv.shutdown()
    assert first.returncode == 0, err1
    assert second.returncode == 1
    assert f"is busy (pid {first.pid}: sf generate" in err2
    assert "Traceback" not in err2
    df = pl.read_parquet(run.files("rollouts"))
    assert df.height == 3 * 2 * 2
    assert df["rollout_id"].n_unique() == df.height


def test_sf_build_is_refused_while_another_process_holds_the_run(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time;from sfdata.store import RunDir\n"
         "with RunDir(sys.argv[1]).lock('sf build (test holder)'):\n print('held', flush=True); time.sleep(600)",
         str(run.path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        p = sf("build", str(run.path), "--replace")
        _, err = p.communicate(timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert p.returncode == 1
    assert f"is busy (pid {holder.pid}: sf build (test holder))" in err
    assert not run.has("traces")
    # the holder was killed -9 style: the OS dropped its lock, the next build just runs
    p = sf("build", str(run.path))
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    ids = pl.read_parquet(run.files("traces"))["trace_id"]
    assert ids.n_unique() == ids.len() > 0


def test_two_builds_racing_never_write_duplicate_traces(tmp_path):
    run = make_run(tmp_path / "r", n_questions=4)
    procs = [sf("build", str(run.path)) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes, results
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0 or "is busy" in err, err
    ids = pl.read_parquet(run.files("traces"))["trace_id"]
    assert ids.n_unique() == ids.len() > 0


def test_concurrent_set_stage_writers_lose_no_update(tmp_path):
    run = RunDir(tmp_path / "r").init()
    code = (
        "import sys\nfrom sfdata.store import RunDir\nr=RunDir(sys.argv[1])\n"
        "for i in range(40): r.set_stage(f'{sys.argv[2]}{i}', 'done', i=i)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(run.path), w], cwd=ROOT, env=env) for w in "ab"]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    stages = run.manifest()["stages"]
    assert sorted(stages) == sorted(f"{w}{i}" for w in "ab" for i in range(40))


def test_lock_is_reentrant_in_one_process_and_names_the_holder(tmp_path):
    run = RunDir(tmp_path / "r")
    with run.lock("outer"), run.lock("inner"):
        assert (run.path / ".lock").read_text().startswith(f"{os.getpid()}\touter")
    with run_lock(run.path, "again"):  # released after the outer block
        pass


def test_busy_error_is_an_oserror_with_one_clear_line(tmp_path):
    run = RunDir(tmp_path / "r")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time;from sfdata.store import RunDir\n"
         "with RunDir(sys.argv[1]).lock('holder cmd'):\n print('held', flush=True); time.sleep(600)", str(run.path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunBusyError, match=rf"busy \(pid {holder.pid}: holder cmd\)"):
            with run.lock("me"):
                pass
        with pytest.raises(OSError):
            with run.lock("me", wait=0.2):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_duplicate_ids_are_dropped_loudly_on_read(tmp_path):
    run = make_run(tmp_path / "r", n_questions=2)
    part = run.files("rollouts")[0]
    n = pl.read_parquet(part).height
    (part.parent / ("part-99999999999999999999-copy0000.parquet")).write_bytes(part.read_bytes())
    with pytest.warns(UserWarning, match=rf"{n} duplicate row\(s\) of rollouts"):
        df = run.read("rollouts")
    assert df["rollout_id"].n_unique() == df.height


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_files_and_folders_follow_the_umask(tmp_path, umask):
    from sfdata.store.parquet import write_parquet_atomic
    from sfdata.store.run import write_text_atomic
    from sfdata.store.tempfiles import new_temp_dir

    old = os.umask(umask)
    try:
        f1 = write_parquet_atomic(pl.DataFrame({"a": [1]}), tmp_path / "x.parquet")
        f2 = write_text_atomic("hi", tmp_path / "m.json")
        d = new_temp_dir(tmp_path, "hub")
    finally:
        os.umask(old)
    assert stat.S_IMODE(f1.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(f2.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~umask


def test_temps_of_a_killed_writer_are_cleaned_on_the_next_write(tmp_path):
    from sfdata.store.parquet import write_parquet_atomic

    dead = tmp_path / f".part-1.parquet.pid{DEAD_PID}.0123abcd.tmp"
    dead.write_bytes(b"half a parquet")
    live = tmp_path / f".part-2.parquet.pid{os.getpid()}.0123abcd.tmp"
    live.write_bytes(b"still being written")
    write_parquet_atomic(pl.DataFrame({"a": [1]}), tmp_path / "part-3.parquet")
    assert not dead.exists()
    assert live.exists()


def test_a_table_moved_aside_by_a_killed_replace_is_restored(tmp_path):
    run = make_run(tmp_path / "r", n_questions=2)
    rollouts = run.table_path("rollouts")
    n = run.read("rollouts").height
    aside = rollouts.with_name(f".rollouts.old.pid{DEAD_PID}.0123abcd.tmp")
    os.replace(rollouts, aside)  # killed between the two renames of a replace
    staged = rollouts.with_name(f".rollouts.new.pid{DEAD_PID}.89abcdef.tmp")
    staged.mkdir()
    with run.lock("next writer"):
        pass
    assert run.read("rollouts").height == n
    assert not aside.exists() and not staged.exists()
    assert clean_stale_temps(run.path) == []


def test_build_replace_stages_in_a_folder_of_its_own(tmp_path):
    from sfdata.factory.build import BuildConfig, build_stage

    run = make_run(tmp_path / "r", n_questions=3)
    other = run.path / ".traces.new"  # the old shared staging name another process might be filling
    other.mkdir()
    (other / "part-0.parquet").write_bytes(b"someone else's")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = build_stage(run, BuildConfig(), replace=True)
    assert (other / "part-0.parquet").read_bytes() == b"someone else's"
    assert run.read("traces").height == info["traces"]


@pytest.mark.parametrize("text", ["null", "[]", "3", '"x"'])
def test_manifest_that_is_not_an_object_is_one_clear_line(tmp_path, capsys, text):
    from sfdata.app.cli.main import main

    run = make_run(tmp_path / "r", n_questions=1)
    run.manifest_path.write_text(text)
    assert main(["grade", str(run.path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(run.manifest_path) in err and "JSON object" in err
    assert json.loads(run.manifest_path.read_text()) == json.loads(text)  # not overwritten
