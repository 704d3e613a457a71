"""Generation engines: transformers (CPU/CUDA default), vLLM (CUDA build, or the CPU build when chosen with
`--engine vllm`), OpenAI-compatible server."""

from __future__ import annotations

from typing import Any

from sfdata.engines.base import Completion, Engine, Prompt, SamplingParams

ENGINE_KINDS = ("auto", "transformers", "vllm", "openai")


def vllm_available() -> bool:
    """Whether `auto` (and GRPO) pick vLLM: installed and a CUDA GPU present. vLLM's CPU build runs when asked for
    (`--engine vllm`, `sf rl --set use_vllm=true`), but `auto` keeps transformers on CPU: vLLM's start-up (imports,
    engine process, compile warm-up) takes minutes on a small CPU machine, more than the small runs it would serve."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def get_engine(kind: str = "auto", model: str | None = None, **options: Any) -> Engine:
    """`auto` picks vLLM when it is installed and a GPU is present, else transformers."""
    if kind not in ENGINE_KINDS:
        raise ValueError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINE_KINDS)}")
    if kind == "auto":
        kind = "vllm" if vllm_available() else "transformers"
    if kind == "transformers":
        from sfdata.engines.hf import TransformersEngine

        opts = {k: v for k, v in options.items() if k in ("batch_size", "device", "dtype", "threads")}
        return TransformersEngine(model, **opts)
    if kind == "vllm":
        from sfdata.engines.vllm_engine import VLLMEngine

        opts = {k: v for k, v in options.items() if k not in ("batch_size", "base_url", "api_key")}
        return VLLMEngine(model, **opts)
    from sfdata.engines.openai_server import OpenAIEngine

    opts = {
        k: v
        for k, v in options.items()
        if k in ("base_url", "api_key", "timeout", "retries", "concurrency", "max_reply_bytes")
    }
    return OpenAIEngine(model, **opts)


__all__ = ["Completion", "Engine", "Prompt", "SamplingParams", "get_engine", "vllm_available"]
