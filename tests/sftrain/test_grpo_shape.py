"""The paper preset builds TRL 1.16's GRPOConfig with the paper's batch shape, and the reward is binary by default."""

from __future__ import annotations

import json

import pytest

from sftrain.precision import choose_precision
from sftrain.presets import PAPER_EVAL, PAPER_RL, PAPER_SFT, SFT_PRESETS, grpo_shape, scale_to_world


def test_paper_preset_builds_the_papers_grpo_shape(tmp_path):
    from sftrain.rl import RLRunConfig, grpo_config

    args = grpo_config(RLRunConfig(preset="paper", output_dir=str(tmp_path)), choose_precision("cpu"))
    assert args.num_generations == 16  # completions per prompt
    assert args.generation_batch_size == 256 * 16  # 256 prompts per generation
    per_update = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    assert per_update == 32 * 16  # an optimizer update sees 32 prompts' groups
    # TRL splits a generation into steps_per_generation micro-batches; gradient_accumulation_steps of them
    # make one optimizer update -> 8 updates per generation
    assert args.steps_per_generation * args.per_device_train_batch_size == args.generation_batch_size
    assert args.steps_per_generation // args.gradient_accumulation_steps == 8
    assert args.learning_rate == 1e-6 and args.max_completion_length == 4096 and args.temperature == 1.0
    assert args.epsilon == 0.2 and args.scale_rewards == "group" and args.loss_type == "dapo"
    assert args.beta == 0.0 and args.num_iterations == 1
    assert args.max_steps == 150 * 8  # 150 rollout steps (best estimate) of 8 updates each
    assert (args.bf16, args.use_cpu) == (False, True)  # precision comes from choose_precision


def test_the_shape_holds_on_eight_processes():
    one = grpo_shape(256, 16, 32, micro_batch=16)
    eight = scale_to_world(one, 8)
    assert one["gradient_accumulation_steps"] == 32 and eight["gradient_accumulation_steps"] == 4
    assert grpo_shape(256, 16, 32, micro_batch=16, world_size=8) == eight
    # per update: 16 x 8 x 4 = 512 completions; per generation (global) 4096 -> 4096 / (16 x 8) = 32 micro
    # steps / 4 accumulation = 8 updates
    assert 16 * 8 * eight["gradient_accumulation_steps"] == 512
    with pytest.raises(ValueError, match="does not divide"):
        scale_to_world(one, 3)
    with pytest.raises(ValueError, match="multiple"):
        grpo_shape(250, 16, 32, micro_batch=16)


def test_every_paper_number_cites_its_source():
    for table in (PAPER_SFT, PAPER_RL, PAPER_EVAL):
        for key, cited in table.items():
            assert cited.source.strip(), key
    sft = SFT_PRESETS["paper"]
    assert sft["learning_rate"] == 1e-6 and sft["num_train_epochs"] == 1 and sft["lr_scheduler_type"] == "cosine"
    assert sft["warmup_steps"] == 0.05 and sft["adam_beta2"] == 0.95 and sft["weight_decay"] == 1e-4
    assert sft["max_length"] == 16384
    assert PAPER_EVAL["max_tokens"].value == 16384


def test_paper_sft_preset_is_accepted_by_trl(tmp_path):
    from trl import SFTConfig

    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to=[], **SFT_PRESETS["paper"])
    assert args.adam_beta2 == 0.95 and args.weight_decay == 1e-4 and args.max_length == 16384
    assert args.get_warmup_steps(1000) == 50  # warmup 0.05 of the steps


def test_eval_paper_preset_fills_what_the_config_leaves_out():
    from sfdata.stagecfg import from_dict
    from sftrain.eval import EvalConfig

    assert from_dict(EvalConfig, {"preset": "paper"}).max_tokens == 16384
    assert from_dict(EvalConfig, {"preset": "paper", "max_tokens": 512}).max_tokens == 512
    with pytest.raises(ValueError, match="unknown eval preset"):
        from_dict(EvalConfig, {"preset": "nope"})


def test_reward_is_binary_by_default_and_the_format_bonus_pays_every_arms_format_alike():
    from sftrain.rewards import format_reward
    from sftrain.rl import RLRunConfig

    assert RLRunConfig().format_reward is False
    plain = "3 * 4 is 12.\n<answer>12</answer>"
    star = "<think>\n3 * 4 = 12, checked.\n</think>\n<answer>12</answer>"
    sf = (
        "<think>\n<sample>\n3 * 4 = 11\n<answer>11</answer>\n</sample>\n<reflect>\nno\n<verdict>Incorrect</verdict>\n"
        "</reflect>\n<sample>\n3 * 4 = 12\n<answer>12</answer>\n</sample>\n<reflect>\nyes\n<verdict>Correct</verdict>\n"
        "</reflect>\n</think>\n\nSo the final answer is:\n\n<answer>12</answer>"
    )
    assert format_reward([plain, star, sf, [{"role": "assistant", "content": sf}]]) == [0.1] * 4
    # no final answer: unclosed, empty, an answer not last, nothing at all
    bad = [
        "<answer>1",
        "<answer> </answer>",
        "<answer>1</answer>\n<think>more</think>",
        "x",
        sf[: sf.rindex("<answer>")],
    ]
    assert format_reward(bad) == [0.0] * 5


def test_rl_questions_are_held_out_from_the_start_models_training_run(tmp_path):
    from sfdata.store import RunDir
    from sfdata.tasks import get_task, make_questions
    from sftrain.rl import RLRunConfig, rl_questions

    train = RunDir(tmp_path / "run").init({})
    train.write("questions", make_questions("multiplication", 20, 0, level=1))
    model = tmp_path / "sft"
    model.mkdir()
    (model / "sf_summary.json").write_text(json.dumps({"config": {"data": str(train.path), "model": None}}))
    task = get_task("multiplication")
    train_keys = {task.question_key(q) for q in task.generate(20, 0, level=1)}
    cfg = RLRunConfig(model=str(model), task="multiplication", level=1, n_questions=10, seed=5)
    qs, removed = rl_questions(cfg, log=lambda m: None)
    assert len(qs) == 10 and removed > 0
    assert not {task.question_key(q) for q in qs} & train_keys
    plain = task.generate(10, 5, level=1)  # what the old code trained on
    assert {task.question_key(q) for q in plain} & train_keys


def test_set_use_vllm_overrides_the_automatic_choice(tmp_path):
    """`sf rl --set use_vllm=...` decides (was a duplicate-keyword TypeError); vllm_mode follows."""
    from sftrain.precision import choose_precision
    from sftrain.rl import RLRunConfig, grpo_config

    cfg = RLRunConfig(preset="cpu", output_dir=str(tmp_path), overrides={"use_vllm": False})
    assert grpo_config(cfg, choose_precision("cpu"), use_vllm=True).use_vllm is False
