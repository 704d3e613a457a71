"""verl custom reward function for SkillFactory exports (`reward.custom_reward_function.path=.../reward.py`).

verl's reward managers call `compute_score(data_source=..., solution_str=..., ground_truth=...,
extra_info=...)` for each response; verl's built-in scorer raises NotImplementedError on our
`data_source` (`skillfactory/<task>`), so `sf export --to verl` copies this file next to the
parquet. It grades with the same task graders as `sf grade` (the `skillfactory` package must be
installed where verl runs): 1.0 when the last `<answer>` is correct, else 0.0.
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "skillfactory/"


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: Any = None, **_: Any) -> float:
    from sfdata.tasks import get_task, grade_response
    from sfdata.tasks.base import Question

    if not str(data_source).startswith(PREFIX):
        raise ValueError(f"data_source {data_source!r} is not a SkillFactory export ({PREFIX}<task>)")
    task = get_task(str(data_source)[len(PREFIX) :])
    truth = json.loads(ground_truth) if isinstance(ground_truth, str) else dict(ground_truth)
    answer = str(truth.get("answer", ""))
    level = int((extra_info or {}).get("level") or 0) if isinstance(extra_info, dict) else 0
    question = Question(task.name, "", answer, level, truth)
    _, result = grade_response(task, question, solution_str)
    return 1.0 if result.is_correct else 0.0
