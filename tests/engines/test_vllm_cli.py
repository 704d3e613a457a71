"""`sf generate` and `sf eval` with `--engine vllm` on the CPU build, as a user runs them (separate processes:
vLLM spawns its engine process, which the `sf` entry point's `__main__` guard allows)."""

from __future__ import annotations

import pytest

from sfdata.store import RunDir

from .conftest import ENGINE_OPTIONS, sf

pytestmark = pytest.mark.engines


def test_sf_generate_and_sf_eval_on_vllm(tmp_path, vllm_mod, model_dir):
    run = tmp_path / "run"
    sf("questions", str(run), "--n", "2", "--level", "3")
    sf(
        "generate", str(run), "--engine", "vllm", "--variants", "original", "--n", "4", "--temperature", "1.0",
        "--max-tokens", "24", "--engine-options", *ENGINE_OPTIONS,
    )  # fmt: skip
    roll = RunDir(run).read("rollouts")
    assert roll.height == 8 and set(roll["engine"]) == {"vllm"}
    assert roll["seed"].n_unique() == 8
    for _, g in roll.group_by("question_id"):
        assert g["response"].n_unique() == 4, g["response"].to_list()  # 4 samples of a prompt: 4 texts
    assert (roll["completion_tokens"] > 0).all()

    ev = tmp_path / "ev"
    sf(
        "eval", "--run", str(ev), "--engine", "vllm", "--tasks", "countdown:3", "--n-questions", "2",
        "--fewshot", "0", "--max-tokens", "24", "--engine-options", *ENGINE_OPTIONS,
    )  # fmt: skip
    rows = RunDir(ev).read("eval")
    assert rows.height == 2
    assert set(rows["task"]) == {"countdown"}
