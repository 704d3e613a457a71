"""Two-process training on CPU: `accelerate launch --num_processes 2` (DDP over gloo, configs/accelerate/cpu_ddp.yaml)
of `sf sft` and of an experiment's arm steps (SFT -> GRPO through `[experiment.launcher]`), on a tiny model.

Checked: the global batch is the single-process one, process 0 alone writes the model, summary, manifest and
rl_log rows (no duplicates, valid JSON, no temp files left), rl_log rows count every process's completions, and
the saved models load. Collected by `make test-engines` (marker `engines`); from the main venv:
`python -m pytest -m engines tests/engines/test_two_process.py` (needs only torch + accelerate + TRL).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sftrain.presets import RL_PRESETS, SFT_PRESETS
from tests.helpers import tiny_model_dir
from tests.synth import make_run

from .conftest import REPO, env

pytestmark = pytest.mark.engines

CPU_DDP = REPO / "configs" / "accelerate" / "cpu_ddp.yaml"


def _env() -> dict[str, str]:
    """The engines tests' child environment, one thread per process (two processes share the 2 cores)."""
    e = env()
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`accelerate launch --config_file cpu_ddp.yaml --num_processes 2 -m sfdata.app ARGS`, as a user types it."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CPU_DDP)]
    cmd += ["--num_processes", "2", "--main_process_port", str(_port()), "-m", "sfdata.app", *args]
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert p.returncode == 0, f"{' '.join(args)} exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}"
    return p


def global_batch(args: dict, processes: int) -> int:
    return int(args["per_device_train_batch_size"]) * processes * int(args.get("gradient_accumulation_steps", 1))


def assert_model_folder(out: Path, processes: int) -> dict:
    """One clean model folder: loads, its summary is whole JSON from `processes` processes, no temp files left."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert AutoTokenizer.from_pretrained(out).eos_token
    summary = json.loads((out / "sf_summary.json").read_text(encoding="utf-8"))
    assert summary["processes"] == processes
    leftovers = [p.name for p in out.iterdir() if "tmp" in p.name or p.name.startswith(".")]
    assert leftovers == []
    return summary


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = make_run(tmp_path_factory.mktemp("ddp") / "run", n_questions=6, n=2, k=1, p_correct=0.5, seed=4)
    build_stage(r, BuildConfig(formats=("*C", "*C*IC"), n=3))
    return r


def test_sft_on_two_processes_keeps_the_global_batch(run, tmp_path):
    out = tmp_path / "sft"
    # --set leaves the batch fields alone, so the cpu preset's shape is what gets spread over the processes
    launch("sft", str(run.path), "--model", str(tiny_model_dir()), "--output", str(out), "--set", "max_steps=2")
    summary = assert_model_folder(out, processes=2)
    args = summary["args"]
    assert global_batch(args, 2) == global_batch(SFT_PRESETS["cpu"], 1) == 4
    assert args["per_device_train_batch_size"] == 2  # the cpu preset accumulates once: the per-device batch halves
    assert summary["steps"] == 2 and summary["last_loss"] is not None


def test_experiment_arm_steps_under_accelerate(run):
    """`sf run`'s experiment with `[experiment.launcher] kind = "accelerate"`: SFT then GRPO, each on 2 processes."""
    import polars as pl

    from sfdata.app.pipeline import run_pipeline

    rl_steps = 2
    config = {
        "run": {"name": "ddp"},
        "experiment": {
            "model": str(tiny_model_dir()),
            "arms": ["skillfactory"],
            "launcher": {"kind": "accelerate", "num_processes": 2, "config_file": str(CPU_DDP)},
            "sft": {"preset": "cpu", "overrides": {"max_steps": 1, "max_length": 256}},
            "rl": {
                "preset": "cpu",
                "task": "countdown",
                "level": 3,
                "n_questions": 8,
                "overrides": {"max_steps": rl_steps, "max_completion_length": 8},
            },
            "eval": {"tasks": ["countdown:3"], "n_questions": 1, "max_tokens": 8, "engine": "transformers"},
            "skills": False,
        },
    }
    logs: list[str] = []
    out = run_pipeline(config, run.path, log=logs.append)
    assert any("accelerate.commands.launch" in m and " rl " in f" {m} " for m in logs)
    steps = {s["stage"]: s for s in out["stages"]["experiment"]["arms"]["skillfactory"]}
    assert steps["sft"]["processes"] == steps["rl"]["processes"] == 2
    for name in ("sft", "rl"):
        folder = run.path / "models" / "skillfactory" / name
        assert_model_folder(folder, processes=2)
    manifest = json.loads((run.path / "manifest.json").read_text(encoding="utf-8"))  # whole JSON: one writer
    stages = manifest["stages"]
    assert stages["experiment"]["status"] == "done"
    for name in ("sft", "rl"):  # the parent recorded each launched step as a stage run
        entry = stages[f"skillfactory/{name}"]
        assert entry["status"] == "done" and entry["info"]["processes"] == 2
        assert entry["info"]["launcher"]["kind"] == "accelerate"

    log = run.read("rl_log")
    assert log.height == rl_steps and log["log_id"].n_unique() == rl_steps  # one writer: no duplicate rows
    assert log.sort("step")["step"].to_list() == list(range(1, rl_steps + 1))
    # every process's completions, not process 0's share: the global batch per step
    assert log["completions"].to_list() == [global_batch(RL_PRESETS["cpu"], 1)] * rl_steps == [4, 4]
    ev = run.read("eval")
    assert ev.filter(pl.col("arm") == "skillfactory").height == 2  # sft and rl, one question each

    again = run_pipeline(config, run.path, log=logs.append, force=("experiment",))  # finished steps are skipped
    assert all(s.get("skipped") for s in again["stages"]["experiment"]["arms"]["skillfactory"])


def test_sft_of_the_embedded_model_on_two_processes(run, tmp_path):
    """The embedded SmolLM2-135M (no --model): one step on two processes, one clean model folder that loads."""
    out = tmp_path / "sft-embedded"
    launch("sft", str(run.path), "--output", str(out), "--set", "max_steps=1", "max_length=256")
    summary = assert_model_folder(out, processes=2)
    assert summary["steps"] == 1 and summary["args"]["per_device_train_batch_size"] == 2
    assert global_batch(summary["args"], 2) == global_batch(SFT_PRESETS["cpu"], 1)
