"""Precision: fp32 master weights + bf16 compute on CUDA, and proof that it matters at lr 1e-6."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from sfdata.synth import make_run
from sftrain.precision import choose_precision
from tests.helpers import tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]


def test_cuda_keeps_fp32_master_weights_with_bf16_compute():
    p = choose_precision("cuda", (9, 0))  # H100
    assert (p.load_dtype, p.bf16, p.fp16, p.use_cpu) == ("float32", True, False, False)
    assert choose_precision("cuda:1", (8, 0)).mode == "bf16-mixed"
    old = choose_precision("cuda", (7, 0))  # V100: no bf16, fp16 autocast, still fp32 weights
    assert (old.load_dtype, old.bf16, old.fp16) == ("float32", False, True)
    cpu = choose_precision("cpu")
    assert (cpu.load_dtype, cpu.bf16, cpu.fp16, cpu.use_cpu) == ("float32", False, False, True)
    assert choose_precision("cuda", (9, 0), mode="bf16").load_dtype == "bfloat16"  # only when asked
    assert choose_precision("cuda", (9, 0), mode="fp32").trainer_args() == {
        "bf16": False,
        "fp16": False,
        "use_cpu": False,
    }
    with pytest.raises(ValueError, match="capability"):
        choose_precision("cuda", (7, 5), mode="bf16-mixed")
    with pytest.raises(ValueError, match="unknown precision"):
        choose_precision("cuda", (9, 0), mode="half")


def test_accelerate_configs_train_in_bf16_compute_over_fp32_weights():
    for name in ("fsdp.yaml", "deepspeed_zero3.yaml"):
        cfg = yaml.safe_load((ROOT / "configs" / "accelerate" / name).read_text())
        assert cfg["mixed_precision"] == "bf16", name  # autocast compute; the weights stay as loaded (fp32)
        assert not cfg.get("downcast_bf16"), name
    fsdp = yaml.safe_load((ROOT / "configs" / "accelerate" / "fsdp.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_version"] == 2  # FSDP2 shards the fp32 parameters; MixedPrecisionPolicy casts for compute


def _changed_fraction(tmp_path, precision) -> float:
    """Train the tiny model 2 SFT steps at lr 1e-6 through our SFT path; share of weights that moved."""
    from sfdata.factory.build import BuildConfig, build_stage
    from sftrain.sft import SFTRunConfig, build_sft_trainer

    run = make_run(tmp_path / "run", n_questions=3, n=2, k=1, p_correct=0.5, seed=4)
    build_stage(run, BuildConfig(formats=("*C",), n=1))
    cfg = SFTRunConfig(
        data=str(run.path),
        model=str(tiny_model_dir()),
        output_dir=str(tmp_path / "out"),
        overrides={
            "max_steps": 2,
            "max_length": 192,
            "per_device_train_batch_size": 1,
            "learning_rate": 1e-6,
            "lr_scheduler_type": "constant",
            "warmup_steps": 0,
        },
    )
    trainer, _, _ = build_sft_trainer(cfg, log=lambda m: None, precision=precision)
    assert str(next(trainer.model.parameters()).dtype) == f"torch.{precision.load_dtype}"
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters() if v.requires_grad}
    trainer.train()
    total = changed = 0
    for k, v in trainer.model.named_parameters():
        if k in before:
            total += v.numel()
            changed += int((v.detach() != before[k]).sum())
    return changed / total


def test_lr_1e6_moves_nearly_all_weights_with_the_cuda_choice_and_not_with_bf16_weights(tmp_path):
    # the CUDA answer (fp32 weights, bf16 autocast), run on this CPU: only use_cpu differs
    cuda_choice = replace(choose_precision("cuda", (9, 0)), use_cpu=True)
    assert _changed_fraction(tmp_path / "fp32", cuda_choice) > 0.99
    # what the old code did on CUDA: weights loaded in bf16 -> a 1e-6 step rounds away for almost all of them
    bf16_weights = choose_precision("cpu", mode="bf16")
    assert _changed_fraction(tmp_path / "bf16", bf16_weights) < 0.2
