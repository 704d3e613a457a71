"""Budget forcing as in s1: when a model closes `</think>`, cut there, append a continuation cue (by
default `<sample>`) and let it keep reasoning from the raw text, for up to B extra rounds, all within
ONE total token budget (`sampling.max_tokens`) that shrinks as rounds spend it.

This probes whether a model trained on SkillFactory traces can use extra test-time compute: each
forced round is another attempt + verification before the final answer. A fresh `max_tokens` per
round would instead hand forced answers up to (B+1)x the budget of plain ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfdata.engines.base import Engine, SamplingParams
from sfdata.grammar import think_close
from sftrain.sampling import generate_with_seeds


@dataclass
class Forced:
    text: str  # the full assistant text after forcing
    rounds: int  # continuation rounds actually used
    completion_tokens: int  # tokens generated in all rounds together (<= the total budget)


def thought_before_close(text: str) -> str | None:
    """The text before the last `</think>`, or None when the thought was never closed (parsing only)."""
    at = think_close(text)  # the grammar's last </think>, in any spelling
    return None if at is None else text[:at]


def _rounded_down(remaining: int, total: int) -> int:
    """Group items into few max_tokens buckets (one engine call each) without ever exceeding what is left."""
    quantum = max(1, total // 16)
    return remaining if remaining < quantum else remaining - remaining % quantum


def budget_force(
    engine: Engine,
    prompts: list[list[dict]],
    first: list[str],
    sampling: SamplingParams,
    rounds: int,
    continuation: str = "\n<sample>\n",
    first_tokens: list[int] | None = None,
    seeds: list[int] | None = None,
) -> list[Forced]:
    """Continue each first completion up to `rounds` times; only texts that closed </think> are forced, and
    only while their total budget (`sampling.max_tokens`, the first completion included) has tokens left."""
    total = sampling.max_tokens
    texts = list(first)
    used = [0] * len(texts)
    spent = list(first_tokens or [0] * len(texts))
    base_seeds = list(seeds) if seeds is not None else [sampling.seed] * len(texts)
    for r in range(rounds):
        groups: dict[int, list[tuple[int, str]]] = {}
        for i, t in enumerate(texts):
            thought = thought_before_close(t)
            left = _rounded_down(total - spent[i], total)
            if thought is not None and left > 0:
                groups.setdefault(left, []).append((i, thought.rstrip() + continuation))
        if not groups:
            break
        for left, items in sorted(groups.items()):
            sp = SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=left,
                n=1,
                seed=sampling.seed + 7919 * (r + 1),
                stop=sampling.stop,
            )
            raws = [engine.chat_text(prompts[i]) + prefix for i, prefix in items]
            round_seeds = [(base_seeds[i] + 7919 * (r + 1)) & 0x7FFFFFFF for i, _ in items]
            outs = generate_with_seeds(engine, raws, sp, round_seeds)
            for (i, prefix), out in zip(items, outs):
                texts[i] = prefix + out[0].text
                used[i] += 1
                spent[i] += out[0].completion_tokens
    return [Forced(t, u, k) for t, u, k in zip(texts, used, spent)]
