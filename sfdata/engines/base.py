"""Engine protocol: `generate(prompts, sampling) -> n completions per prompt`.

A str prompt is raw, already-templated text that is continued as is (budget forcing needs
this); a list of `{role, content}` dicts is a chat, templated with a generation prompt.
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplingParams:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingParams) -> list[list[Completion]]: ...

    def chat_text(self, messages: list[dict[str, str]]) -> str: ...

    def close(self) -> None: ...


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Truncate at the first stop string (excluded); report whether one was hit."""
    if not stop:
        return text, False
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
