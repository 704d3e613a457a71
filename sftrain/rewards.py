"""GRPO rewards from the task graders: 1.0 for a correct final answer (the paper's binary reward), and
an opt-in small bonus for an output ending in one well-formed final answer, which every format can earn. Graders are the same safe ones used for data (never eval).

Why the bonus is opt-in: with group-normalised advantages (scale_rewards="group") a 0.1 bonus in a group
where every answer is wrong is divided by that group's small std and becomes a full-size advantage, so
the model would be trained on format, not correctness."""

from __future__ import annotations

import json
from typing import Any

from sfdata.tasks import Question, extract_answer


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}]
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def _question(task: str, data: Any, answer: Any) -> Question:
    d = json.loads(data) if isinstance(data, str) else dict(data or {})
    return Question(task=task, question="", answer=str(answer), level=0, data=d)


def correctness_reward(completions: list, task: list[str], data: list[Any], answer: list[Any], **_: Any) -> list[float]:
    """1.0 when the last <answer> grades correct for its question, else 0.0."""
    from sfdata.tasks.batch import grade_batch

    answers = [extract_answer(_text(comp)) for comp in completions]
    todo = [i for i, ans in enumerate(answers) if ans is not None]
    qs = [_question(task[i], data[i], answer[i]) for i in todo]
    out = [0.0] * len(answers)
    for i, res in zip(todo, grade_batch(qs, [answers[i] for i in todo])):  # big batches use every core
        out[i] = 1.0 if res.is_correct else 0.0
    return out


def ends_in_final_answer(text: str) -> bool:
    """True when the output's last two tags are one `<answer>` ... `</answer>` with a non-empty body: plain, STaR
    and SkillFactory outputs all end this way (SkillFactory's earlier in-sample answers do not count against it)."""
    from sfdata import grammar

    sc = grammar.scan(text)
    if sc.over_limit or len(sc.tags) < 2:
        return False
    opening, closing = sc.tags[-2], sc.tags[-1]
    if opening.name != "answer" or opening.closing or closing.name != "answer" or not closing.closing:
        return False
    return bool(text[opening.end : closing.start].strip())


def format_reward(completions: list, **_: Any) -> list[float]:
    """0.1 for an output whose last tag closes one well-formed final <answer>, else 0.0; no arm's format is favoured."""
    return [0.1 if ends_in_final_answer(_text(comp)) else 0.0 for comp in completions]
