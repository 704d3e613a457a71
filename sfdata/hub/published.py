"""Published SFT sets (e.g. the R1-annotated Countdown baseline) as an experiment arm's data.

Such a set is written in its own prompt, but every arm is evaluated in the experiment's prompt. So before an
arm trains on it, each row's question is read back from its user turn and rendered in the experiment's prompt
variant (the answer turn is kept), and the questions are returned so the eval keeps them out of its held-out
set (they reach `sf_summary.json` as `question_keys`, which `sftrain.heldout.trained_keys` reads).
"""

from __future__ import annotations

import re
from typing import Any

from sfdata.tasks import Question, get_task

_LIST = re.compile(r"\[\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\]")
_TARGET = re.compile(
    r"(?:equals?|equal\s+to|make|makes|reach|get|target(?:\s+number)?(?:\s+(?:is|of))?)\s*:?\s*(-?\d+)", re.I
)
RENDERABLE = ("countdown",)


def countdown_question(text: str) -> Question:
    """The Countdown question a prompt asks: its [numbers] list and the target it must equal, in our wording."""
    from sfdata.tasks.countdown import question_text

    m = _LIST.search(text)
    if not m:
        raise ValueError("no [numbers] list in the question")
    nums = [int(x) for x in m.group(1).replace(" ", "").split(",")]
    t = _TARGET.search(text[m.end() :]) or _TARGET.search(text)
    if not t:
        raise ValueError("no target ('equals N') in the question")
    target = int(t.group(1))
    if not 2 <= len(nums) <= 8:
        raise ValueError(f"{len(nums)} numbers in the question (expected 2..8)")
    data = {"numbers": nums, "target": target}
    return Question("countdown", question_text(nums, target), str(target), len(nums), data, 0, "train")


def _user_text(prompt: list[dict[str, Any]]) -> str:
    users = [m["content"] for m in prompt if m.get("role") == "user"]
    if not users:
        raise ValueError("no user turn")
    return users[-1]


def render_in_prompt(
    rows: list[dict[str, Any]], variant: str, task: str = "countdown"
) -> tuple[list[dict[str, Any]], list[Question]]:
    """Rows of {prompt, completion} with each prompt replaced by the question rendered in `variant`, and the
    questions (in row order). A row whose question cannot be read fails with its index: silently keeping the
    published prompt would both mismatch the eval prompt and leak the question past the held-out check."""
    from sfdata import prompts as pv

    if task not in RENDERABLE:
        raise ValueError(f"rendering a published set in the experiment's prompt supports {RENDERABLE}, not {task!r}")
    t = get_task(task)
    out, questions = [], []
    for i, row in enumerate(rows):
        try:
            q = countdown_question(_user_text(row["prompt"]))
        except ValueError as e:
            raise ValueError(f"published SFT row {i}: cannot read its {task} question ({e})") from None
        out.append({"prompt": pv.messages(variant, t, q), "completion": row["completion"]})
        questions.append(q)
    return out, questions
