"""Budget forcing: when a model closes `</think>`, cut there, append a continuation (by default
`<sample>`) and let it keep reasoning from the raw text, up to B extra rounds.

This probes whether a model trained on SkillFactory traces can use extra test-time compute:
each forced round is another attempt + verification before the final answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfdata.engines.base import Engine, SamplingParams

THINK_CLOSE = "</think>"


@dataclass
class Forced:
    text: str  # the full assistant text after forcing
    rounds: int  # continuation rounds actually used
    completion_tokens: int


def budget_force(
    engine: Engine,
    prompts: list[list[dict]],
    first: list[str],
    sampling: SamplingParams,
    rounds: int,
    continuation: str = "\n<sample>\n",
    first_tokens: list[int] | None = None,
) -> list[Forced]:
    """Continue each first completion up to `rounds` times; only texts that closed </think> are forced."""
    texts = list(first)
    used = [0] * len(texts)
    toks = list(first_tokens or [0] * len(texts))
    for r in range(rounds):
        idx = [i for i, t in enumerate(texts) if THINK_CLOSE in t]
        if not idx:
            break
        raws, prefixes = [], []
        for i in idx:
            prefix = texts[i][: texts[i].rfind(THINK_CLOSE)].rstrip() + continuation
            prefixes.append(prefix)
            raws.append(engine.chat_text(prompts[i]) + prefix)
        sp = SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            n=1,
            seed=sampling.seed + 7919 * (r + 1),
            stop=sampling.stop,
        )
        outs = engine.generate(raws, sp)
        for i, prefix, out in zip(idx, prefixes, outs):
            texts[i] = prefix + out[0].text
            used[i] += 1
            toks[i] += out[0].completion_tokens
    return [Forced(t, u, k) for t, u, k in zip(texts, used, toks)]
