"""Budget forcing as in s1: when a model closes `</think>`, cut there, append a continuation cue (s1's
"Wait" by default, or `<sample>` as the paper's appendix; `[eval] budget_cue`) and let it keep reasoning
from the raw text, for up to B extra rounds, all within ONE total token budget (`sampling.max_tokens`)
that shrinks as rounds spend it.

Forcing applies to every arm's output, so arms compare: an output with no `</think>` (a base or RL-only
model that never opened a thought) gets the cue appended at its end, not a pass.

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


def continuation(cue: str) -> str:
    """The text appended before the model continues: the cue on a new line (a tag cue also ends its line)."""
    cue = cue.strip()
    if not cue:
        raise ValueError("budget-forcing cue is empty; use e.g. 'Wait' or '<sample>'")
    return "\n" + cue + ("\n" if cue.startswith("<") else "")


def forced_prefix(text: str, cue: str) -> str:
    """What the next round continues from: the thought before the last `</think>` plus the cue, or, when the
    output never closed a thought, the whole output plus the cue."""
    thought = thought_before_close(text)
    return (text if thought is None else thought).rstrip() + continuation(cue)


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
    cue: str = "Wait",
    first_tokens: list[int] | None = None,
    seeds: list[int] | None = None,
) -> list[Forced]:
    """Continue each first completion up to `rounds` times with `cue` (see `forced_prefix`), each only while its
    total budget (`sampling.max_tokens`, the first completion included) has tokens left."""
    continuation(cue)  # an empty cue fails before any generation
    total = sampling.max_tokens
    texts = list(first)
    used = [0] * len(texts)
    spent = list(first_tokens or [0] * len(texts))
    base_seeds = list(seeds) if seeds is not None else [sampling.seed] * len(texts)
    for r in range(rounds):
        groups: dict[int, list[tuple[int, str]]] = {}
        for i, t in enumerate(texts):
            left = _rounded_down(total - spent[i], total)
            if left > 0:
                groups.setdefault(left, []).append((i, forced_prefix(t, cue)))
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
