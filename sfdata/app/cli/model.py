"""Resolve a model name: the embedded SmolLM2 (converted once to a trainable checkpoint), an HF id or a path."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", default=None, help="model (default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--convert", action="store_true", help="force re-conversion of the embedded GGUF")


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console
    from sfdata.models import convert_embedded, is_embedded, resolve_model

    if args.convert:
        if not is_embedded(args.name):
            raise ValueError("--convert applies to the embedded model only")
        console.print(str(convert_embedded(force=True)), markup=False)
        return 0
    console.print(resolve_model(args.name), markup=False)
    return 0
