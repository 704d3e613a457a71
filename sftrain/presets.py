"""Training presets. `paper` = the SkillFactory paper's settings; `cpu` = a short smoke run that
still visibly changes a 135M model's output format on 2 cores."""

from __future__ import annotations

SFT_PRESETS: dict[str, dict] = {
    # full fine-tune, lr 1e-6, 1 epoch, cosine, warmup 0.05 (paper; transformers 5 takes a ratio in warmup_steps)
    "paper": dict(
        learning_rate=1e-6,
        num_train_epochs=1.0,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=8,
        max_length=8192,
        max_steps=-1,
    ),
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
    # GRPO, lr 1e-6, 16 rollouts per prompt, 256 prompts/step, responses up to 4096 tokens (paper)
    "paper": dict(
        learning_rate=1e-6,
        num_generations=16,
        per_device_train_batch_size=16,
        gradient_accumulation_steps=16,
        max_completion_length=4096,
        beta=0.0,
        temperature=1.0,
        max_steps=-1,
    ),
    "cpu": dict(
        learning_rate=1e-5,
        num_generations=4,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        max_completion_length=64,
        beta=0.0,
        temperature=1.0,
        max_steps=4,
    ),
}
