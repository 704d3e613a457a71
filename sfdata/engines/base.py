"""Engine protocol: `generate(prompts, sampling, seeds=None) -> n completions per prompt`.

A str prompt is raw, already-templated text that is continued as is (budget forcing needs
this); a list of `{role, content}` dicts is a chat, templated with a generation prompt.

Seeds: `seeds`, when given, holds one seed per prompt and that prompt's request is seeded with
it (vLLM and OpenAI-compatible servers seed one generator per request, so a sample is
reproduced from its own seed whatever else is in the call). Without `seeds` every request is
seeded with `sampling.seed`, so identical prompts in one call come out identical on those
engines: stages that sample a prompt several times must pass one seed per row
(`sfdata.store.ids.seed_from_id`). The transformers engine can only seed a whole batch; see
`sfdata.engines.hf`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Union

Prompt = Union[str, list[dict[str, str]]]


@dataclass
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    n: int = 1
    seed: int = 0
    stop: list[str] | None = None

    def key(self) -> dict[str, Any]:
        """What identifies the sampling in row ids (n and seed are keyed separately per row)."""
        d = asdict(self)
        d.pop("n")
        d.pop("seed")
        return d


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" | "length"
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str
    model: str

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]: ...

    def chat_text(self, messages: list[dict[str, str]]) -> str: ...

    def close(self) -> None: ...


def request_seeds(prompts: Sequence[Prompt], sampling: SamplingParams, seeds: Sequence[int] | None) -> list[int]:
    """One seed per prompt: the caller's, or `sampling.seed` for all; a length mismatch is an error."""
    if seeds is None:
        return [sampling.seed] * len(prompts)
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(prompts):
        raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts; pass one seed per prompt")
    return seeds


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Truncate at the first stop string (excluded); report whether one was hit."""
    if not stop:
        return text, False
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
