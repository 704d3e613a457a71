"""Sample N responses per question x prompt variant into rollouts Parquet. Rerun to resume."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="run directory with questions.parquet")
    p.add_argument("--model", default=None, help="HF id or path (default: embedded SmolLM2)")
    p.add_argument("--engine", default="auto", choices=["auto", "transformers", "vllm", "openai"])
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server URL (engine openai)")
    p.add_argument("--variants", nargs="+", default=None, help="prompt variants (default: all four)")
    p.add_argument("--n", type=int, default=4, help="samples per question x variant")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument(
        "--seed", type=int, default=0, help="base seed: each row is sampled with seed_from_id(its id, this seed)"
    )
    p.add_argument("--batch-size", type=int, default=16, help="engine batch size")
    p.add_argument("--chunk", type=int, default=32, help="rows per part file")
    p.add_argument("--fewshot", type=int, default=0, help="worked demonstrations before each question (tiny models)")


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console, existing_run
    from sfdata.prompts import DEFAULT_VARIANTS
    from sfdata.rollouts import GenerateConfig, generate_stage

    run_dir = existing_run(args.run)
    opts = {"base_url": args.base_url} if args.base_url else {}
    cfg = GenerateConfig(
        model=args.model,
        engine=args.engine,
        variants=tuple(args.variants or DEFAULT_VARIANTS),
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        seed=args.seed,
        batch_size=args.batch_size,
        chunk=args.chunk,
        engine_options=opts,
        fewshot=args.fewshot,
    )
    run_dir.set_stage("generate", "running")
    info = generate_stage(run_dir, cfg)
    run_dir.set_stage("generate", "done", info=info)
    console.print(
        f"planned {info['planned']}, already there {info['existing']}, written {info.get('written', 0)}"
        + (f" ({info['tokens_per_s']} tok/s)" if info.get("tokens_per_s") else "")
    )
    return 0
