"""GRPO with TRL's GRPOTrainer and a reward from the task graders, in the paper's batch shape.

`preset = "paper"`: 256 prompts x 16 completions per generation, 8 optimizer updates of 32 prompts,
lr 1e-6, 4096 completion tokens, temperature 1.0, clip 0.2, group-normalised advantages, no KL
(sftrain/presets.py cites each number). RL questions are held out from what the start model was trained
on (sftrain/heldout.py). vLLM (colocate mode) generates when it is installed and a GPU is present;
otherwise transformers generates, which is what runs on CPU.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sfdata.stagecfg import check_ranges, opt
from sftrain.precision import MODES, Precision, current_precision
from sftrain.presets import RL_PRESETS, RL_QUESTIONS, run_args, scale_to_world


@dataclass
class RLRunConfig:
    """`sf rl` flags (and the RL step of a pipeline): GRPO with a reward from the task graders."""

    model: str | None = opt(None, "start model (e.g. an SFT output dir; default: the embedded SmolLM2)")
    output_dir: str = opt("models/rl", "where to save the model", flag="--output")
    preset: str = opt("cpu", "training preset (sftrain.presets)", choices=tuple(RL_PRESETS))
    task: str = opt("countdown", "task the RL questions come from")
    level: int = opt(3, "task level (countdown: count of numbers)", min=1)
    n_questions: int | None = opt(None, "RL questions (default: the preset's; paper 1000)", min=1)
    questions_from: str | None = opt(None, "use a run's questions instead of generating")
    exclude_from: tuple[str, ...] = opt((), "run dirs whose questions are training data (kept out of RL)")
    seed: int = opt(1234, "seed (different from data-generation seeds so RL questions are fresh)")
    prompt: str = opt(
        "original, 0-shot",
        "how RL questions are asked, 'VARIANT, K-shot' (an experiment asks SFT, RL and eval with its one prompt)",
    )
    format_reward: bool = opt(
        False,
        "add a 0.1 bonus for an output ending in one well-formed final <answer> (any format earns it; opt-in: "
        "under group scaling a constant bonus is a full advantage in all-wrong groups)",
    )
    extra_rewards: tuple[str, ...] = opt((), "more reward functions as package.module:function (TRL signature)")
    precision: str = opt("auto", "auto = fp32 master weights + bf16 compute on CUDA, fp32 on CPU", choices=MODES)
    overrides: dict[str, Any] = opt({}, "any TRL GRPOConfig field, e.g. --set max_steps=10", flag="--set")

    def __post_init__(self) -> None:
        check_ranges(self)

        from sfdata.prompts import PromptSetup

        self.prompt = PromptSetup.parse(self.prompt).label  # one spelling, so setups compare as text

    def training_args(self, world_size: int = 1) -> dict[str, Any]:
        """Preset + overrides as TRL GRPOConfig fields, with the global batch shape kept on `world_size` processes."""
        if self.preset not in RL_PRESETS:
            raise ValueError(f"unknown RL preset {self.preset!r}; known: {', '.join(RL_PRESETS)}")
        return {**scale_to_world(RL_PRESETS[self.preset], world_size), **self.overrides}


def grpo_config(cfg: RLRunConfig, precision: Precision, use_vllm: bool = False, world_size: int = 1):
    """The TRL GRPOConfig of a run: preset shape, precision decision, logging defaults."""
    from trl import GRPOConfig

    vllm = {"use_vllm": use_vllm, **({"vllm_mode": "colocate"} if use_vllm else {})}
    # overrides (`--set use_vllm=true vllm_gpu_memory_utilization=0.1`) win over the automatic choice
    return GRPOConfig(**{**run_args(cfg.output_dir, cfg.seed, precision), **vllm, **cfg.training_args(world_size)})


def rl_questions(cfg: RLRunConfig, log=print) -> tuple[list, int]:
    """RL questions minus any that overlap the start model's (or `exclude_from` runs') training questions."""
    from sfdata import prompts as pv
    from sfdata.store import RunDir
    from sfdata.tasks import Question, get_task
    from sftrain.heldout import draw_held_out, keys_of, merge, question_key, run_keys, trained_keys

    exclude = merge(trained_keys(cfg.model), *(run_keys(r) for r in cfg.exclude_from))
    shots = pv.PromptSetup.parse(cfg.prompt).fewshot
    if shots:  # the demonstrations are never RL questions (as in eval)
        exclude = merge(exclude, keys_of(get_task(cfg.task).generate(shots, pv.FEWSHOT_SEED, level=cfg.level)))
    n = cfg.n_questions if cfg.n_questions is not None else RL_QUESTIONS.get(cfg.preset, 64)
    if cfg.questions_from:
        qdf = RunDir(cfg.questions_from).read("questions")
        if qdf.height == 0:
            raise FileNotFoundError(f"{cfg.questions_from} has no questions")
        qs = [Question.from_row(r) for r in qdf.iter_rows(named=True)]
        kept = [q for q in qs if question_key(get_task(q.task), q) not in exclude.get(q.task, set())]
        removed = len(qs) - len(kept)
    else:
        drawn = draw_held_out(get_task(cfg.task), n, cfg.seed, cfg.level, exclude, split="train")
        kept, removed = drawn.questions, drawn.overlap_removed
    if removed:
        log(f"RL questions: removed {removed} that overlap the start model's training questions")
    if not kept:
        raise ValueError("no RL questions left after removing those the model was trained on")
    return kept, removed


def rl_rows(questions: list, prompt: str = "original, 0-shot") -> list[dict[str, Any]]:
    """GRPO dataset rows: the chat asked (`prompt` setup, as SFT and eval ask it) and the grader's inputs."""
    from sfdata.prompts import PromptSetup
    from sfdata.tasks import get_task

    setup = PromptSetup.parse(prompt)
    return [
        {
            "prompt": setup.messages(get_task(q.task), q),
            "task": q.task,
            "data": json.dumps(q.data),
            "answer": q.answer,
        }
        for q in questions
    ]


def _load(spec: str):
    """A reward function from "module:function" (or "module.function")."""
    from importlib import import_module

    mod, sep, fn = spec.partition(":") if ":" in spec else spec.rpartition(".")
    try:
        return getattr(import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load reward function {spec!r}: {e}") from e


def run_rl(cfg: RLRunConfig, log=print, precision: Precision | None = None, skill_log=None) -> dict[str, Any]:
    """Train with GRPO; `skill_log` (an `sftrain.rl_log.RLSkillLog`) records skill use per logging step."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from sfdata.engines import vllm_available
    from sfdata.models import model_label, resolve_model
    from sfdata.store.run import write_json_atomic
    from sftrain.heldout import keys_of
    from sftrain.rewards import correctness_reward, format_reward

    t0 = time.perf_counter()
    questions, removed = rl_questions(cfg, log)
    prec = precision or current_precision(cfg.precision)
    path = resolve_model(cfg.model)
    tok = AutoTokenizer.from_pretrained(path, clean_up_tokenization_spaces=False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    if prec.use_cpu:
        from sfdata.cpu_threads import apply_torch_threads

        apply_torch_threads()  # the usable CPUs, as decided before torch was imported
    model = AutoModelForCausalLM.from_pretrained(path, dtype=prec.torch_dtype)
    use_vllm = bool(cfg.overrides.get("use_vllm", vllm_available()))  # `--set use_vllm=true` on vLLM's CPU build
    out = Path(cfg.output_dir)
    grpo_args = grpo_config(cfg, prec, use_vllm, int(os.environ.get("WORLD_SIZE", "1")))
    rewards = (
        [correctness_reward] + ([format_reward] if cfg.format_reward else []) + [_load(r) for r in cfg.extra_rewards]
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=skill_log.wrap(rewards) if skill_log else rewards,
        args=grpo_args,
        train_dataset=Dataset.from_list(rl_rows(questions, cfg.prompt)),
        processing_class=tok,
        callbacks=[skill_log.callback()] if skill_log else None,
    )
    trainer.train()
    trainer.save_model(str(out))
    tok.save_pretrained(str(out))
    hist = trainer.state.log_history
    summary = {
        "model": model_label(cfg.model),
        "output_dir": str(out),
        "steps": trainer.state.global_step,
        "questions": len(questions),
        "prompt": cfg.prompt,
        "overlap_removed": removed,
        "rewards": [h.get("reward") for h in hist if "reward" in h],
        "vllm": use_vllm,
        "precision": prec.mode,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    keys = {t: sorted(ks) for t, ks in keys_of(questions).items()}  # later evals keep these out
    record = {**summary, "config": asdict(cfg), "question_keys": keys}
    write_json_atomic(record, out / "sf_summary.json")
    return summary
