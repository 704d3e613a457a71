"""Serve a model (embedded SmolLM2 by default) on an OpenAI-compatible HTTP API, for the `openai`
engine (`sf generate --engine openai --base-url http://HOST:PORT/v1`) or any OpenAI client.
A thin launcher: the model is resolved and loaded here, the HTTP side is uvicorn + Starlette (sfdata/serve.py)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="HF id or path (default: embedded SmolLM2)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-n", type=int, default=16, help="largest n (samples) one request may ask for")
    p.add_argument("--max-tokens", type=int, default=8192, help="largest max_tokens one request may ask for")
    p.add_argument("--max-body-mb", type=float, default=4.0, help="request body size cap")
    p.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds a request's headers, then its body, may take to arrive",
    )
    p.add_argument("--max-connections", type=int, default=64, help="open connections before new requests get 503")
    p.add_argument("--keepalive-timeout", type=float, default=5.0, help="seconds an idle keep-alive connection stays")
    p.add_argument(
        "--api-key-env",
        default=None,
        metavar="VAR",
        help="require `Authorization: Bearer KEY`, KEY read from this environment variable (e.g. SF_SERVE_KEY)",
    )


def run(args: argparse.Namespace) -> int:
    import os

    from sfdata.app.cli._common import console
    from sfdata.engines.hf import TransformersEngine
    from sfdata.serve import ServeLimits, make_server

    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise ValueError(f"--api-key-env {args.api_key_env}: that environment variable is empty or unset")
    limits = ServeLimits(
        max_n=args.max_n,
        max_tokens=args.max_tokens,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        body_timeout_s=args.body_timeout,
        api_key=key,
        max_connections=args.max_connections,
        keepalive_timeout_s=args.keepalive_timeout,
    )
    engine = TransformersEngine(args.model, batch_size=args.batch_size)
    srv = make_server(engine, args.host, args.port, limits=limits)
    console.print(
        f"serving {engine.model} at http://{args.host}:{srv.server_address[1]}/v1 (ctrl+c to stop)", markup=False
    )
    try:
        srv.serve_forever()  # uvicorn handles ctrl+c (graceful stop)
    finally:
        srv.server_close()
    return 0
