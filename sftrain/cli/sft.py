"""Supervised fine-tuning (TRL SFTTrainer) on a run's kept traces, a local file, or a published SFT set."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "data",
        help="run dir, local Parquet/JSON(L) file or folder, or Hub id "
        "(e.g. SkillFactory/SFT_DATA-cd3args-main-Qwen2.5-1.5B-Instruct-SkillFactory)",
    )
    p.add_argument("--model", default=None, help="base model (default: embedded SmolLM2)")
    p.add_argument("--output", default="models/sft", help="where to save the model")
    p.add_argument("--preset", default="cpu", choices=["cpu", "paper"])
    p.add_argument("--config", default="sft_train", help="dataset config (Hub / local folder)")
    p.add_argument("--split", default="train")
    p.add_argument(
        "--formats",
        nargs="*",
        default=None,
        help="run dirs: trace formats and/or sets to train on (default: 0C *C *C*IC *CC of the main set; "
        "add *C_full, or name random, no_reflection, star or an ablation to use those sets)",
    )
    p.add_argument("--all", action="store_true", help="ignore labels (default: drop traces labelled drop)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16-mixed", "fp16-mixed", "bf16"],
        help="auto: fp32 master weights + bf16 compute on CUDA, fp32 on CPU; bf16 = bf16 weights (loses small updates)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="K=V",
        help="override any TRL SFTConfig field, e.g. --set max_steps=10 --set learning_rate=1e-5",
    )


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for kv in items:
        if "=" not in kv:
            raise ValueError(f"--set expects K=V, got {kv!r}")
        k, v = kv.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console
    from sftrain.sft import SFTRunConfig, run_sft

    cfg = SFTRunConfig(
        data=args.data,
        model=args.model,
        output_dir=args.output,
        preset=args.preset,
        config=args.config,
        split=args.split,
        formats=tuple(args.formats) if args.formats else None,
        kept_only=not args.all,
        seed=args.seed,
        precision=args.precision,
        overrides=parse_overrides(args.set),
    )
    s = run_sft(cfg, log=lambda m: console.print(f"[yellow]{m}"))
    console.print(
        f"trained {s['steps']} steps on {s['examples']} examples in {s['seconds']}s; "
        f"loss {s['first_loss']:.3f} -> {s['last_loss']:.3f}; saved to {s['output_dir']}"
    )
    return 0
