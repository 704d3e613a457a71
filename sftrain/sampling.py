"""Calling an engine with one seed per prompt, so each eval item's sample is its own (the same item gets
the same sample whatever the batch or resume order). Engines that predate per-prompt seeds still work."""

from __future__ import annotations

import inspect


def generate_with_seeds(engine, prompts, sampling, seeds: list[int]):
    """`engine.generate(prompts, sampling, seeds=seeds)` when the engine takes `seeds`, else without."""
    try:
        takes_seeds = "seeds" in inspect.signature(engine.generate).parameters
    except (TypeError, ValueError):  # builtins / C extensions without a signature
        takes_seeds = False
    if takes_seeds:
        return engine.generate(prompts, sampling, seeds=seeds)
    return engine.generate(prompts, sampling)
