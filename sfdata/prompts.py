"""Prompt variants: the same question asked several ways, for diverse samples.

Each template receives `{question}` and `{answer_format}` (from the task) and must ask for the
final answer inside <answer></answer>. Users add variants with `register_variant` and pick them
with the `variants` option of the generate stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sfdata.tasks.base import Question, Task

VARIANTS: dict[str, str] = {
    "original": (
        "{question}\n\n"
        "Think it through step by step, then give your final answer as {answer_format}, "
        "wrapped in tags like this: <answer>your answer</answer>."
    ),
    "plan_and_execute": (
        "{question}\n\n"
        "First write a short plan for how you will search for a solution. Then carry the plan out, "
        "showing each step. Finish with {answer_format} inside <answer></answer> tags."
    ),
    "alternatively": (
        "{question}\n\n"
        "Try one approach. If it does not reach the goal, say 'Alternatively,' and try a different one, "
        "as many times as you need. When one works, write {answer_format} inside <answer></answer> tags."
    ),
    "rephrase": (
        "Here is a puzzle: {question}\n\n"
        "Start by restating the puzzle in your own words so the goal and the rules are clear. "
        "Then solve it and put {answer_format} inside <answer></answer> tags."
    ),
}

DEFAULT_VARIANTS = ("original", "plan_and_execute", "alternatively", "rephrase")


def register_variant(name: str, template: str) -> None:
    """Add or replace a variant; the template must mention {question} and ask for <answer> tags."""
    if "{question}" not in template:
        raise ValueError(f"prompt variant {name!r} must contain {{question}}")
    if "<answer>" not in template:
        raise ValueError(f"prompt variant {name!r} must ask for the answer inside <answer></answer>")
    VARIANTS[name] = template


def render(variant: str, task: Task, question: Question) -> str:
    try:
        template = VARIANTS[variant]
    except KeyError:
        raise KeyError(f"unknown prompt variant {variant!r}; known: {', '.join(VARIANTS)}") from None
    return template.format(question=question.question, answer_format=task.answer_format)


def messages(variant: str, task: Task, question: Question) -> list[dict[str, str]]:
    return [{"role": "user", "content": render(variant, task, question)}]


FEWSHOT_SEED = 987_654_321  # questions for demonstrations come from a seed no run uses


def fewshot_messages(variant: str, task: Task, k: int, level: int | None = None) -> list[dict[str, str]]:
    """`k` demonstration turns (user question, assistant answer in <answer> tags) for small models.

    Tiny base models rarely follow "put the answer in <answer> tags" from instructions alone;
    one worked demonstration in the chat fixes the format without changing the task.
    """
    if k <= 0:
        return []
    demos = task.generate(k, FEWSHOT_SEED, level=level)
    out: list[dict[str, str]] = []
    worked = getattr(task, "worked_solution", None)
    for q in demos:
        if worked is not None:
            reply = worked(q)
        else:
            ans = q.data.get("witness") or q.data.get("example") or q.answer
            reply = f"Working through the rules one by one, this fits all of them.\n<answer>{ans}</answer>"
        out.append({"role": "user", "content": render(variant, task, q)})
        out.append({"role": "assistant", "content": reply})
    return out


@dataclass(frozen=True)
class PromptSetup:
    """How a model is asked a question: a variant and `fewshot` demonstrations before it.

    One experiment asks SFT examples, RL prompts and eval questions the same way; its text form
    ("original, 1-shot") is what eval rows record in `prompt_setup` and what configs write.
    """

    variant: str = "original"
    fewshot: int = 0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown prompt variant {self.variant!r}; known: {', '.join(VARIANTS)}")
        if self.fewshot < 0:
            raise ValueError(f"fewshot must be >= 0, got {self.fewshot}")

    @classmethod
    def parse(cls, text: str | PromptSetup) -> PromptSetup:
        """ "original, 1-shot" | "original" (0-shot) -> PromptSetup."""
        if isinstance(text, PromptSetup):
            return text
        variant, _, shots = str(text).partition(",")
        shots = shots.strip()
        m = re.fullmatch(r"(\d+)-shot", shots) if shots else None
        if shots and m is None:
            raise ValueError(f"prompt setup {text!r}: write it as 'VARIANT, K-shot', e.g. 'original, 1-shot'")
        return cls(variant.strip(), int(m.group(1)) if m else 0)

    @property
    def label(self) -> str:
        return f"{self.variant}, {self.fewshot}-shot"

    def messages(self, task: Task, question: Question) -> list[dict[str, str]]:
        """The chat sent for `question`: the demonstrations (at the question's level), then the question."""
        return fewshot_messages(self.variant, task, self.fewshot, question.level or None) + messages(
            self.variant, task, question
        )
