"""kill -9 during `sf generate`, `sf reflect` and `sf build`, then resume: same ids as an
uninterrupted run, no duplicates, no gaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sfdata.store import RunDir
from sfdata.tasks import make_questions
from tests.helpers import tiny_model_dir

CLI = [sys.executable, "-c", "import sys; from sfdata.app.cli.main import main; sys.exit(main())"]


def _questions(path: Path, n: int = 4) -> RunDir:
    run = RunDir(path).init({"test": True})
    run.write("questions", make_questions("countdown", n, 0, level=3))
    return run


def _kill_after_parts(cmd: list[str], folder: Path, parts: int, timeout: float = 240) -> None:
    """Start `cmd`, SIGKILL it once `folder` holds `parts` part files; it must not finish first."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()}
    )
    t0 = time.time()
    try:
        while time.time() - t0 < timeout:
            if len(list(folder.glob("part-*.parquet"))) >= parts:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return
            if proc.poll() is not None:
                raise AssertionError(f"finished before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError("timed out waiting for part files")
    finally:
        if proc.poll() is None:
            proc.kill()


def _ids(run: RunDir, table: str, col: str) -> list[str]:
    return run.read(table)[col].to_list()


def test_generate_and_reflect_survive_kill_9(tmp_path):
    from sfdata.app.cli.main import main

    model = str(tiny_model_dir())
    gen = [
        "generate",
        "--model",
        model,
        "--engine",
        "transformers",
        "--n",
        "2",
        "--max-tokens",
        "8",
        "--chunk",
        "4",
        "--batch-size",
        "4",
        "--seed",
        "5",
    ]
    refl = [
        "reflect",
        "--model",
        model,
        "--engine",
        "transformers",
        "--k",
        "2",
        "--max-tokens",
        "8",
        "--chunk",
        "4",
        "--batch-size",
        "4",
    ]
    # 2 questions x 4 variants x 2 samples = 16 rollouts in 4 chunks (the kill lands after 2): small, as
    # every sample costs a real forward pass per token, and this test was the suite's slowest by far
    ref = _questions(tmp_path / "ref", n=2)
    # only the runs that get killed are subprocesses (each pays torch's import); the rest run the same CLI here
    assert main([gen[0], str(ref.path), *gen[1:]]) == 0
    assert main(["grade", str(ref.path)]) == 0
    assert main([refl[0], str(ref.path), *refl[1:]]) == 0

    run = _questions(tmp_path / "killed", n=2)
    _kill_after_parts([*CLI, gen[0], str(run.path), *gen[1:]], run.path / "rollouts", parts=2)
    partial = _ids(run, "rollouts", "rollout_id")
    assert 0 < len(partial) < 16 and len(partial) % 4 == 0  # whole chunks only, nothing torn
    assert main([gen[0], str(run.path), *gen[1:]]) == 0
    ids = _ids(run, "rollouts", "rollout_id")
    assert len(ids) == len(set(ids)) == 16
    assert sorted(ids) == sorted(_ids(ref, "rollouts", "rollout_id"))

    assert main(["grade", str(run.path)]) == 0
    _kill_after_parts([*CLI, refl[0], str(run.path), *refl[1:]], run.path / "reflections", parts=2)
    assert main([refl[0], str(run.path), *refl[1:]]) == 0
    rids = _ids(run, "reflections", "reflection_id")
    assert len(rids) == len(set(rids)) == 32
    assert sorted(rids) == sorted(_ids(ref, "reflections", "reflection_id"))


def test_build_survives_kill_9(tmp_path):
    from sfdata.synth import make_run

    src = make_run(tmp_path / "src", n_questions=1500, n=2, k=1, p_correct=0.5, seed=2)
    build = ["build", "--formats", "*C", "*C*IC", "random", "--n", "3", "--chunk", "20"]
    ref = tmp_path / "ref"
    import shutil

    shutil.copytree(src.path, ref)
    killed = tmp_path / "killed"
    shutil.copytree(src.path, killed)
    subprocess.run([*CLI, build[0], str(ref), *build[1:]], check=True, capture_output=True)
    _kill_after_parts([*CLI, build[0], str(killed), *build[1:]], killed / "traces", parts=1)
    n_partial = RunDir(killed).read("traces").height
    subprocess.run([*CLI, build[0], str(killed), *build[1:]], check=True, capture_output=True)
    a = RunDir(killed).read("traces")
    b = RunDir(ref).read("traces")
    assert n_partial < a.height
    assert a["trace_id"].n_unique() == a.height == b.height
    assert sorted(a["trace_id"]) == sorted(b["trace_id"])
    assert a.sort("trace_id")["trace"].to_list() == b.sort("trace_id")["trace"].to_list()


def test_eval_survives_kill_9_with_nothing_lost_or_repeated(tmp_path):
    """`sf eval` goes through the chunked job loop: killed after its first part, rerun, the table equals an
    uninterrupted eval's (same ids, same responses), with no id twice."""
    from sfdata.app.cli.main import main

    model = str(tiny_model_dir())
    args = ["--model", model, "--engine", "transformers", "--tasks", "countdown:3", "multiplication:1"]
    args += ["--n-questions", "6", "--samples", "2", "--max-tokens", "12", "--chunk", "1", "--budget-forcing", "1"]
    killed = tmp_path / "killed"
    _kill_after_parts([*CLI, "eval", "--run", str(killed), *args], killed / "eval", 1)
    got = RunDir(killed).read("eval")
    assert 0 < got.height < 6 * 2 * 2 * 2  # some chunks landed, not all
    assert main(["eval", "--run", str(killed), *args]) == 0
    assert main(["eval", "--run", str(tmp_path / "whole"), *args]) == 0
    cols = ["eval_id", "budget_rounds", "response", "is_correct", "completion_tokens"]
    resumed = RunDir(killed).read("eval").select(cols).sort("eval_id")
    whole = RunDir(tmp_path / "whole").read("eval").select(cols).sort("eval_id")
    assert (
        resumed["eval_id"].n_unique() == resumed.height == 2 * 6 * 2 * 2
    )  # task-levels x questions x samples x rounds
    assert resumed.equals(whole)
    assert len(RunDir(killed).files("eval")) > 1  # one part per chunk, not one write at the end
