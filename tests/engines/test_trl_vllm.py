"""GRPO with TRL's vLLM integration (colocate mode) on vLLM's CPU build: one tiny step through `run_rl`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.engines


def test_grpo_step_with_trl_vllm_colocate_on_cpu(tmp_path, vllm_mod, model_dir):
    from sftrain.rl import RLRunConfig, run_rl

    cfg = RLRunConfig(
        output_dir=str(tmp_path / "rl"),
        n_questions=2,
        overrides={
            "use_vllm": True,  # what `sf rl --set use_vllm=true ...` passes
            "vllm_gpu_memory_utilization": 0.1,
            "max_steps": 1,
            "num_generations": 2,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "generation_batch_size": 2,
            "max_completion_length": 16,
            "logging_steps": 1,
            "report_to": [],
        },
    )
    summary = run_rl(cfg, log=lambda *_: None)
    assert summary["vllm"] is True and summary["steps"] == 1
    assert len(summary["rewards"]) == 1
