"""Serve a model (embedded SmolLM2 by default) on an OpenAI-compatible HTTP API, for the `openai`
engine (`sf generate --engine openai --base-url http://HOST:PORT/v1`) or any OpenAI client."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="HF id or path (default: embedded SmolLM2)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=16)


def run(args: argparse.Namespace) -> int:
    from sfdata.cli._common import console
    from sfdata.engines.hf import TransformersEngine
    from sfdata.serve import make_server

    engine = TransformersEngine(args.model, batch_size=args.batch_size)
    srv = make_server(engine, args.host, args.port)
    console.print(
        f"serving {engine.model} at http://{args.host}:{srv.server_address[1]}/v1 (ctrl+c to stop)", markup=False
    )
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0
