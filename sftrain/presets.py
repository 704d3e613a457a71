"""Training and eval presets. `paper` = the SkillFactory paper's settings, each number with its source;
`cpu` = a short smoke run that still visibly changes a 135M model's output format on 2 cores.

Sources (what each `Cited.source` names):
- PAPER: the paper, arXiv 2512.04072, its training and evaluation setup (SFT with LLaMA-Factory, GRPO with
  verl, eval up to 16k tokens).
- SFT_YAML: the released SFT config, github.com/Zayne-sprague/SkillFactory examples/llamafactory_sft_example.yaml.
- VERL_CMD: the released GRPO command, github.com/Zayne-sprague/SkillFactory README.md section "Verl".
- TRL_MAP: how a verl/paper value is spelled in TRL 1.16 (TRL docs, GRPOConfig / GRPO trainer pages;
  trl/trainer/grpo_config.py __post_init__: batch sizes count completions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAPER = "paper arXiv 2512.04072 (training and evaluation setup)"
SFT_YAML = "released SFT config: Zayne-sprague/SkillFactory examples/llamafactory_sft_example.yaml"
VERL_CMD = "released verl command: Zayne-sprague/SkillFactory README.md 'Verl'"
TRL_MAP = "TRL 1.16 mapping (TRL docs GRPOConfig; trl/trainer/grpo_config.py)"


@dataclass(frozen=True)
class Cited:
    value: Any
    source: str


# --- GRPO batch shape (verl -> TRL). verl counts prompts, TRL counts completions. ---
PROMPTS_PER_GENERATION = 256  # verl data.train_batch_size (VERL_CMD; PAPER "256 prompts per step")
COMPLETIONS_PER_PROMPT = 16  # verl actor_rollout_ref.rollout.n (VERL_CMD; PAPER)
PROMPTS_PER_UPDATE = 32  # verl actor.ppo_mini_batch_size (VERL_CMD) -> 256 / 32 = 8 updates per generation
RL_MICRO_BATCH = 16  # completions per forward/backward on one device (memory only; one prompt group)
# Steps: verl trainer.total_epochs=50 (VERL_CMD) over ~1,000 held-out questions in batches of 256 with
# drop_last gives 3 x 50 = 150 rollout steps (the paper does not publish the count: best estimate);
# each rollout step makes 8 optimizer updates, and TRL's max_steps counts optimizer updates.
RL_ROLLOUT_STEPS = 150
UPDATES_PER_GENERATION = PROMPTS_PER_GENERATION // PROMPTS_PER_UPDATE


def grpo_shape(
    prompts_per_generation: int,
    completions_per_prompt: int,
    prompts_per_update: int,
    micro_batch: int,
    world_size: int = 1,
) -> dict[str, int]:
    """TRL GRPOConfig batch fields for a verl-style shape, on `world_size` processes.

    TRL: generation_batch_size (global completions per generation), num_generations (per prompt),
    per_device_train_batch_size x world_size x gradient_accumulation_steps = completions per optimizer update.
    """
    per_update = prompts_per_update * completions_per_prompt
    if prompts_per_generation % prompts_per_update:
        raise ValueError(f"{prompts_per_generation} prompts per generation is not a multiple of {prompts_per_update}")
    if per_update % (micro_batch * world_size):
        raise ValueError(
            f"an update of {per_update} completions does not split into micro-batches of {micro_batch} "
            f"on {world_size} processes"
        )
    return {
        "num_generations": completions_per_prompt,
        "generation_batch_size": prompts_per_generation * completions_per_prompt,
        "per_device_train_batch_size": micro_batch,
        "gradient_accumulation_steps": per_update // (micro_batch * world_size),
    }


_PAPER_SHAPE = grpo_shape(PROMPTS_PER_GENERATION, COMPLETIONS_PER_PROMPT, PROMPTS_PER_UPDATE, RL_MICRO_BATCH)

PAPER_RL: dict[str, Cited] = {
    **{k: Cited(v, f"{VERL_CMD}; {TRL_MAP}") for k, v in _PAPER_SHAPE.items()},
    "learning_rate": Cited(1e-6, f"{VERL_CMD} actor.optim.lr; {PAPER}"),
    "lr_scheduler_type": Cited("constant", "verl actor optimizer default (no decay, no warmup)"),
    "max_completion_length": Cited(4096, f"{VERL_CMD} data.max_response_length; {PAPER}"),
    "temperature": Cited(1.0, "verl rollout default temperature (VERL_CMD sets none)"),
    "epsilon": Cited(0.2, "verl actor clip_ratio default; PAPER clip 0.2"),
    "scale_rewards": Cited("group", f"verl adv_estimator=grpo normalises by the group std ({VERL_CMD})"),
    "loss_type": Cited("dapo", f"verl token-mean loss aggregation; closest TRL loss ({TRL_MAP})"),
    "beta": Cited(0.0, f"{VERL_CMD}: kl_ctrl.kl_coef only acts with use_kl_in_reward (off); no KL loss"),
    "max_steps": Cited(RL_ROLLOUT_STEPS * UPDATES_PER_GENERATION, "150 rollout steps x 8 updates (see above)"),
    "gradient_checkpointing": Cited(True, f"{VERL_CMD} model.enable_gradient_checkpointing (memory only)"),
}

PAPER_SFT: dict[str, Cited] = {
    "learning_rate": Cited(1e-6, f"{SFT_YAML} learning_rate; {PAPER}"),
    "num_train_epochs": Cited(1.0, f"{SFT_YAML} num_train_epochs; {PAPER}"),
    "lr_scheduler_type": Cited("cosine", f"{SFT_YAML} lr_scheduler_type; {PAPER}"),
    # transformers 5 reads a float < 1 in warmup_steps as a ratio of the total steps
    "warmup_steps": Cited(0.05, f"{SFT_YAML} warmup_ratio; {PAPER}"),
    "adam_beta1": Cited(0.9, f"{SFT_YAML} adam_beta1"),
    "adam_beta2": Cited(0.95, f"{SFT_YAML} adam_beta2"),
    "weight_decay": Cited(1e-4, f"{SFT_YAML} weight_decay"),
    "max_length": Cited(16384, f"{SFT_YAML} cutoff_len; {PAPER}"),
    "per_device_train_batch_size": Cited(1, f"{SFT_YAML} per_device_train_batch_size"),
    "gradient_accumulation_steps": Cited(1, f"{SFT_YAML} gradient_accumulation_steps"),
    "gradient_checkpointing": Cited(True, f"{SFT_YAML} gradient_checkpointing (memory at 16k tokens)"),
    "max_steps": Cited(-1, "one full epoch (num_train_epochs decides)"),
}

PAPER_EVAL: dict[str, Cited] = {
    "max_tokens": Cited(16384, f"{PAPER}: evaluation up to 16k tokens"),
    "temperature": Cited(0.0, "greedy decoding, so one sample per question is a stable score (our choice)"),
}

PAPER_RL_QUESTIONS = Cited(
    1000, "held-out Countdown questions; best estimate, not published in the paper (arXiv 2512.04072)"
)


def values(table: dict[str, Cited]) -> dict[str, Any]:
    return {k: c.value for k, c in table.items()}


SFT_PRESETS: dict[str, dict] = {
    "paper": values(PAPER_SFT),
    "cpu": dict(
        learning_rate=1e-4,
        num_train_epochs=2.0,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        max_length=2048,
        max_steps=40,
    ),
}

RL_PRESETS: dict[str, dict] = {
    "paper": values(PAPER_RL),
    "cpu": dict(
        learning_rate=1e-5,
        num_generations=4,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        max_completion_length=64,
        temperature=1.0,
        epsilon=0.2,
        scale_rewards="group",
        loss_type="dapo",
        beta=0.0,
        max_steps=4,
    ),
}

RL_QUESTIONS: dict[str, int] = {"paper": PAPER_RL_QUESTIONS.value, "cpu": 64}

EVAL_PRESETS: dict[str, dict] = {"paper": values(PAPER_EVAL)}


BATCH_FIELDS = ("per_device_train_batch_size", "gradient_accumulation_steps")


def world_size() -> int:
    """Processes of this training run: `accelerate launch` / torchrun set WORLD_SIZE in each one (1 otherwise)."""
    import os

    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def scale_to_world(args: dict[str, Any], world_size: int, fixed: Any = ()) -> dict[str, Any]:
    """Keep a preset's *global* batch (per_device_train_batch_size x processes x gradient_accumulation_steps) on
    `world_size` processes. TRL's accumulation and per-device batch are per process, so divide accumulation
    first (same memory per step) and the per-device batch by what is left (the `cpu` presets accumulate once).
    generation_batch_size is global in TRL already. When the user set either batch field for this machine
    (`fixed`, e.g. the keys of --set), the preset's shape is theirs to choose and nothing is divided."""
    from math import gcd

    if world_size <= 1 or set(BATCH_FIELDS) & set(fixed):
        return dict(args)
    ga = int(args.get("gradient_accumulation_steps", 1))
    per = int(args.get("per_device_train_batch_size", 1))
    from_ga = gcd(ga, world_size)
    rest = world_size // from_ga
    if per % rest:
        raise ValueError(
            f"the global batch per_device_train_batch_size={per} x gradient_accumulation_steps={ga} does not divide "
            f"over {world_size} processes; set both for this machine with "
            "--set per_device_train_batch_size=N gradient_accumulation_steps=M"
        )
    return {**args, "gradient_accumulation_steps": ga // from_ga, "per_device_train_batch_size": per // rest}


def run_args(output_dir: Any, seed: int, precision: Any) -> dict[str, Any]:
    """TrainingArguments fields every trainer here shares (SFTConfig and GRPOConfig alike): where to write, seed,
    log every step (the run tables and rl_log read each step), no checkpoints, no trackers, the device's precision
    decision (`sftrain.precision.Precision`), no dataloader worker processes (2-core machines, Parquet in memory)."""
    return {
        "output_dir": str(output_dir),
        "seed": seed,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "dataloader_num_workers": 0,
        **precision.trainer_args(),
    }
