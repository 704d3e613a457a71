"""Supervised fine-tuning on SkillFactory traces with TRL's SFTTrainer.

Loss is on the assistant turn only (prompt/completion data -> completion_only_loss). Traces
are long, so `max_length` defaults high and truncation is counted and reported instead of
silently cutting the answer off.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sfdata.factory.registry import OWN_SET_FORMATS, SFT_DEFAULT_FORMATS
from sfdata.stagecfg import opt
from sftrain.precision import MODES, Precision, current_precision
from sftrain.presets import SFT_PRESETS, run_args, scale_to_world, world_size

PRECISION_HELP = (
    "auto: fp32 master weights + bf16 compute on CUDA, fp32 on CPU; bf16 = bf16 weights (loses small updates)"
)


@dataclass
class SFTStageConfig:
    """`[sft]` section of a pipeline config: train on the run's own traces (into `RUN/models/sft`).

    Its fields are shared with `SFTRunConfig` (the `sf sft` flags), so each is written once."""

    model: str | None = opt(None, "base model (default: the embedded SmolLM2)")
    preset: str = opt("cpu", "training preset (sftrain.presets)", choices=tuple(SFT_PRESETS))
    formats: tuple[str, ...] | None = opt(
        None,
        f"run dirs: trace formats and/or sets to train on (default: {' '.join(SFT_DEFAULT_FORMATS)} of the main set; "
        f"add *C_full, or name {', '.join(OWN_SET_FORMATS)} or an ablation to use those sets)",
    )
    seed: int = opt(0, "training seed")
    precision: str = opt("auto", PRECISION_HELP, choices=MODES)
    overrides: dict[str, Any] = opt({}, "any TRL SFTConfig field, e.g. --set max_steps=10", flag="--set")


@dataclass
class SFTRunConfig(SFTStageConfig):
    """`sf sft` flags: fine-tune on a run, a local file/folder or a Hub dataset."""

    data: str = opt("", "run dir, local Parquet/JSON(L) file or folder, or Hub id", cli=False)
    output_dir: str = opt("models/sft", "where to save the model", flag="--output")
    config: str | None = opt("sft_train", "dataset config (Hub / local folder)")
    split: str = opt("train", "dataset split")
    kept_only: bool = opt(True, "drop traces labelled drop (keep only kept ones when any are)", cli=False)
    prompt_variant: str | None = opt(
        None, "a published (non-run) set: render its Countdown questions in this prompt variant", cli=False
    )
    prompt: str | None = opt(
        None,
        "run dirs: ask every trace's question as 'VARIANT, K-shot', as RL and eval ask it (default: the trace's own "
        "user turn)",
    )

    def __post_init__(self) -> None:
        if self.prompt is not None:
            from sfdata.prompts import PromptSetup

            self.prompt = PromptSetup.parse(self.prompt).label

    def training_args(self, world_size: int = 1) -> dict[str, Any]:
        """Preset + overrides as TRL SFTConfig fields, with the global batch kept on `world_size` processes."""
        if self.preset not in SFT_PRESETS:
            raise ValueError(f"unknown SFT preset {self.preset!r}; known: {', '.join(SFT_PRESETS)}")
        return {**scale_to_world(SFT_PRESETS[self.preset], world_size, fixed=self.overrides), **self.overrides}


def count_truncated(rows: list[dict], tokenizer, max_length: int) -> tuple[int, int, int]:
    """(rows longer than max_length tokens, longest length, total tokens) with the chat template applied;
    the total is what the experiment table reports per arm, so unequal SFT data is visible beside results."""
    over, longest, total = 0, 0, 0
    for r in rows:
        # tokenize the rendered text: apply_chat_template(tokenize=True) returns a dict in transformers 5
        text = tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False)
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        longest = max(longest, n)
        over += n > max_length
        total += n
    return over, longest, total


def sft_rows(cfg: SFTRunConfig) -> tuple[list[dict], dict[str, list[str]]]:
    """The {prompt, completion} rows SFT trains on and the question keys (task -> keys) that later evals must keep
    out beyond the data run's own questions: with `prompt_variant`, a published set's questions are re-rendered
    in that prompt (an experiment arm on the R1-annotated set is trained in the prompt it is evaluated in)."""
    from sftrain.data import load_sft_rows

    rows = load_sft_rows(cfg.data, cfg.config, cfg.split, cfg.kept_only, cfg.formats, prompt=cfg.prompt)
    if not cfg.prompt_variant or (Path(cfg.data) / "manifest.json").is_file():
        return rows, {}  # a run's traces are already in the run's prompt; its questions are excluded via the run
    from sfdata.hub.published import render_in_prompt
    from sftrain.heldout import keys_of

    rows, questions = render_in_prompt(rows, cfg.prompt_variant)
    return rows, {t: sorted(ks) for t, ks in keys_of(questions).items()}


def build_sft_trainer(cfg: SFTRunConfig, log=print, precision: Precision | None = None):
    """The configured TRL SFTTrainer (not yet trained) and facts about the data it will see.

    `precision` defaults to `current_precision(cfg.precision)`; tests pass the CUDA answer in.
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from sfdata.models import resolve_model

    rows, question_keys = sft_rows(cfg)
    path = resolve_model(cfg.model)
    tok = AutoTokenizer.from_pretrained(path, clean_up_tokenization_spaces=False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    args = cfg.training_args(world_size())
    over, longest, total = count_truncated(rows, tok, args["max_length"])
    if over:
        log(
            f"warning: {over} of {len(rows)} examples exceed max_length={args['max_length']} tokens "
            f"(longest {longest}) and will be truncated; raise max_length to keep whole traces"
        )
    prec = precision or current_precision(cfg.precision)
    if prec.use_cpu:
        from sfdata.cpu_threads import apply_torch_threads

        apply_torch_threads()  # the usable CPUs, as decided before torch was imported
    model = AutoModelForCausalLM.from_pretrained(path, dtype=prec.torch_dtype)
    sft_args = SFTConfig(**run_args(cfg.output_dir, cfg.seed, prec), completion_only_loss=True, **args)
    trainer = SFTTrainer(model=model, args=sft_args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    facts = {
        "examples": len(rows),
        "tokens": total,
        "question_keys": question_keys,
        "truncated": over,
        "longest_tokens": longest,
        "args": args,
        "precision": prec.mode,
    }
    return trainer, tok, facts


def run_sft(cfg: SFTRunConfig, log=print) -> dict[str, Any]:
    from sfdata.models import model_label
    from sfdata.store.run import write_json_atomic

    t0 = time.perf_counter()
    trainer, tok, facts = build_sft_trainer(cfg, log)
    args, over, longest, rows_n = facts["args"], facts["truncated"], facts["longest_tokens"], facts["examples"]
    out = Path(cfg.output_dir)
    result = trainer.train()
    trainer.save_model(str(out))  # process 0 writes (Trainer.args.should_save)
    main = trainer.is_world_process_zero()
    if main:  # one writer per file under `accelerate launch`: no torn tokenizer or summary files
        tok.save_pretrained(str(out))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "model": model_label(cfg.model),
        "output_dir": str(out),
        "examples": rows_n,
        "tokens": facts["tokens"],
        "truncated": over,
        "longest_tokens": longest,
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "train_loss": result.training_loss,
        "seconds": round(time.perf_counter() - t0, 1),
        "args": {k: v for k, v in args.items()},
        "processes": trainer.args.world_size,
        "precision": facts["precision"],
        "prompt": cfg.prompt or "as in the data",
    }
    # question_keys: a published set's questions, kept out of later evals (sftrain.heldout.trained_keys)
    record = {**summary, "config": asdict(cfg), "question_keys": facts["question_keys"]}
    if main:
        write_json_atomic(record, out / "sf_summary.json")
    trainer.accelerator.wait_for_everyone()  # the launcher's parent reads the summary once every process is done
    return summary


def sft_stage(run, cfg: SFTStageConfig) -> dict[str, Any]:
    """Reads `traces` (and `labels`: dropped traces are left out); writes the model to `RUN/models/sft`."""
    out = run.path / "models" / "sft"
    return run_sft(
        SFTRunConfig(
            data=str(run.path),  # the config holds a path string (str(RunDir) is its repr, not the path)
            model=cfg.model,
            output_dir=str(out),
            preset=cfg.preset,
            formats=cfg.formats,
            seed=cfg.seed,
            precision=cfg.precision,
            overrides=dict(cfg.overrides),
        )
    )
