"""Ask the model to verify each rollout (K reflections each); report verdict precision/recall/F1."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path)
    p.add_argument("--model", default=None)
    p.add_argument("--engine", default="auto", choices=["auto", "transformers", "vllm", "openai"])
    p.add_argument("--base-url", default=None)
    p.add_argument("--k", type=int, default=2, help="reflections per rollout")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument(
        "--seed", type=int, default=0, help="base seed: each row is sampled with seed_from_id(its id, this seed)"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--chunk", type=int, default=32)
    p.add_argument("--no-force-verdict", action="store_true", help="do not complete missing verdict tags")


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console, existing_run
    from sfdata.reflect import ReflectConfig, reflect_stage

    run_dir = existing_run(args.run)
    opts = {"base_url": args.base_url} if args.base_url else {}
    cfg = ReflectConfig(
        model=args.model,
        engine=args.engine,
        k=args.k,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
        batch_size=args.batch_size,
        chunk=args.chunk,
        force_verdict=not args.no_force_verdict,
        engine_options=opts,
    )
    run_dir.set_stage("reflect", "running")
    info = reflect_stage(run_dir, cfg)
    run_dir.set_stage("reflect", "done", info=info)
    m = info["metrics"]
    console.print(
        f"reflections {m.get('reflections', 0)}, parsed verdicts {m.get('parsed', 0)}, valid {m.get('valid', 0)}"
    )
    if m.get("parsed"):
        console.print(
            f"verdict precision {m['precision']:.3f} recall {m['recall']:.3f} F1 {m['f1']:.3f} "
            f"(F1 of 'Incorrect' {m['f1_incorrect']:.3f})"
        )
    return 0
