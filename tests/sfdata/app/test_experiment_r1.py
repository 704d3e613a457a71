"""An arm on a published SFT set (the R1-annotated baseline): trained in the experiment's prompt, its questions
kept out of the held-out eval. A local file in the published schema stands in for the Hub set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfdata import prompts as pv
from sfdata.app.experiment import ExperimentConfig, StepConfig, step_config
from sfdata.hub.published import countdown_question, render_in_prompt
from sfdata.store import RunDir
from sfdata.tasks import get_task
from sftrain.sft import SFTRunConfig, sft_rows

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "published_r1_sft.jsonl"
PUBLISHED = (
    "Using the numbers in the list [{n}], create an equation that equals {t}. You can use basic arithmetic "
    "operations (+, -, *, /) and each number can only be used once.\n\n<answer>\n(your answer)\n</answer>"
)


def _published_file(path: Path, questions) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for q in questions:
            nums, t = q.data["numbers"], q.data["target"]
            user = PUBLISHED.format(n=", ".join(str(x) for x in nums), t=t)
            conv = [{"role": "user", "content": user}, {"role": "assistant", "content": "<answer>1</answer>"}]
            f.write(json.dumps({"conversations": conv}) + "\n")
    return path


def test_published_questions_are_read_back_in_our_wording():
    q = countdown_question(json.loads(FIXTURE.read_text().splitlines()[0])["conversations"][1]["content"])
    assert q.data == {"numbers": [41, 12, 73], "target": 126} and q.level == 3
    assert q.question.startswith("Use the numbers [41, 12, 73] to make 126.")
    with pytest.raises(ValueError, match="no target"):
        countdown_question("Using the numbers [1, 2, 3], do something.")


def test_r1_rows_are_rendered_in_the_experiments_prompt(tmp_path):
    cfg = SFTRunConfig(data=str(FIXTURE), config=None, prompt_variant="original")
    rows, keys = sft_rows(cfg)
    assert len(rows) == 3 and keys == {"countdown": ["12,41,73->126", "2,9,50->68", "3,5,7->22"]}
    task = get_task("countdown")
    q = countdown_question("Using the numbers in the list [41, 12, 73], create an equation that equals 126.")
    assert rows[0]["prompt"] == pv.messages("original", task, q)  # no system turn, no published wording
    assert "Using the numbers in the list" not in json.dumps([r["prompt"] for r in rows])
    assert rows[0]["completion"][0]["content"].endswith("</answer>")  # the R1 answer is kept as it was
    plain, none = sft_rows(SFTRunConfig(data=str(FIXTURE), config=None))
    assert none == {} and plain[0]["prompt"][0]["role"] == "system"  # outside an experiment: the set as published


def test_a_published_row_without_a_readable_question_fails_by_index():
    bad = [{"prompt": [{"role": "user", "content": "Say hi"}], "completion": [{"role": "assistant", "content": "hi"}]}]
    with pytest.raises(ValueError, match="published SFT row 0"):
        render_in_prompt(bad, "original")


def test_the_experiment_renders_published_arms_in_its_eval_variant():
    raw = {
        "arms": ["base", "r1"],
        "arm": {"r1": {"steps": [{"kind": "sft", "data": str(FIXTURE)}, {"kind": "rl"}]}},
        "eval": {"variant": "original"},
    }
    cfg = ExperimentConfig.from_dict(raw)
    r1 = step_config(cfg, StepConfig.from_dict({"kind": "sft", "data": str(FIXTURE)}), None, "o", Path("."))
    assert r1.prompt_variant == "original"
    own = step_config(cfg, StepConfig.from_dict({"kind": "sft"}), None, "o", Path("."))
    assert own.prompt_variant is None  # the run's traces are already in the run's prompt


def test_r1_questions_are_excluded_from_the_held_out_eval(tmp_path):
    """The published questions are exactly the first ones the eval would draw: all must be replaced."""
    from sftrain.eval import EvalConfig, eval_questions

    run = RunDir(tmp_path / "run").init({})
    cfg = EvalConfig(tasks=("countdown:3",), n_questions=4, fewshot=0)
    first, removed = eval_questions(run, cfg, [None], 0, log=lambda _m: None)
    assert removed == {"countdown:3": 0}
    model = tmp_path / "models" / "r1" / "sft"
    model.mkdir(parents=True)
    data = _published_file(tmp_path / "r1.jsonl", [q for _, q in first])
    _, keys = sft_rows(SFTRunConfig(data=str(data), config=None, prompt_variant="original"))
    (model / "sf_summary.json").write_text(json.dumps({"config": {"data": str(data)}, "question_keys": keys}))
    task = get_task("countdown")
    again, removed = eval_questions(run, cfg, [str(model)], 0, log=lambda _m: None)
    assert removed == {"countdown:3": 4} and len(again) == 4
    assert not {task.question_key(q) for _, q in again} & set(keys["countdown"])
