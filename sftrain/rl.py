"""GRPO with TRL's GRPOTrainer and a reward from the task graders.

vLLM (colocate mode) generates rollouts when it is installed and a GPU is present;
otherwise transformers generates, which is what runs on CPU.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sfdata.stagecfg import from_dict
from sftrain.presets import RL_PRESETS


@dataclass
class RLRunConfig:
    model: str | None = None
    output_dir: str = "models/rl"
    preset: str = "cpu"
    task: str = "countdown"
    level: int = 3
    n_questions: int = 64
    questions_from: str | None = None  # a run dir whose questions to use instead of generating
    seed: int = 1234  # different from data-generation seeds so RL questions are fresh
    format_reward: bool = True
    extra_rewards: tuple[str, ...] = ()  # more reward functions as "package.module:function" (TRL signature)
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RLRunConfig:
        return from_dict(cls, d)


def rl_rows(cfg: RLRunConfig) -> list[dict[str, Any]]:
    import polars as pl

    from sfdata import prompts
    from sfdata.tasks import Question, get_task, make_questions

    if cfg.questions_from:
        from sfdata.store import RunDir

        qdf = RunDir(cfg.questions_from).read("questions")
        if qdf.height == 0:
            raise FileNotFoundError(f"{cfg.questions_from} has no questions")
    else:
        qdf = make_questions(cfg.task, cfg.n_questions, cfg.seed, level=cfg.level)
    rows = []
    for r in qdf.iter_rows(named=True):
        q = Question.from_row(r)
        task = get_task(q.task)
        rows.append(
            {
                "prompt": prompts.messages("original", task, q),
                "task": q.task,
                "data": json.dumps(q.data),
                "answer": q.answer,
            }
        )
    assert isinstance(qdf, pl.DataFrame)
    return rows


def _load(spec: str):
    """A reward function from "module:function" (or "module.function")."""
    from importlib import import_module

    mod, sep, fn = spec.partition(":") if ":" in spec else spec.rpartition(".")
    try:
        return getattr(import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load reward function {spec!r}: {e}") from e


def run_rl(cfg: RLRunConfig, log=print) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from sfdata.engines import vllm_available
    from sfdata.models import model_label, resolve_model
    from sftrain.rewards import correctness_reward, format_reward

    if cfg.preset not in RL_PRESETS:
        raise ValueError(f"unknown RL preset {cfg.preset!r}; known: {', '.join(RL_PRESETS)}")
    t0 = time.perf_counter()
    args = {**RL_PRESETS[cfg.preset], **cfg.overrides}
    path = resolve_model(cfg.model)
    tok = AutoTokenizer.from_pretrained(path, clean_up_tokenization_spaces=False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if cuda else torch.float32)
    use_vllm = vllm_available()
    out = Path(cfg.output_dir)
    grpo_args = GRPOConfig(
        output_dir=str(out),
        seed=cfg.seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=not cuda,
        bf16=cuda,
        use_vllm=use_vllm,
        **({"vllm_mode": "colocate"} if use_vllm else {}),
        dataloader_num_workers=0,
        **args,
    )
    rewards = (
        [correctness_reward] + ([format_reward] if cfg.format_reward else []) + [_load(r) for r in cfg.extra_rewards]
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=grpo_args,
        train_dataset=Dataset.from_list(rl_rows(cfg)),
        processing_class=tok,
    )
    trainer.train()
    trainer.save_model(str(out))
    tok.save_pretrained(str(out))
    hist = trainer.state.log_history
    summary = {
        "model": model_label(cfg.model),
        "output_dir": str(out),
        "steps": trainer.state.global_step,
        "rewards": [h.get("reward") for h in hist if "reward" in h],
        "vllm": use_vllm,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "sf_summary.json").write_text(json.dumps({**summary, "config": asdict(cfg)}, indent=2, default=str))
    return summary
