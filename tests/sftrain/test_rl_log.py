"""rl_log: skill use and accuracy per GRPO logging step, from the completions the reward function sees."""

from __future__ import annotations

import json

import pytest

from sfdata.store import RunDir
from tests.helpers import tiny_model_dir

TAGGED = (
    "<think>\n<sample>3 * 4 = 11\n<answer>11</answer>\n</sample>\n<reflect>no.\n<verdict>Incorrect</verdict>\n"
    "</reflect>\nLet me try again.\n<sample>3 * 4 = 12\n<answer>12</answer>\n</sample>\n<reflect>Wait, verify: "
    "yes.\n<verdict>Correct</verdict>\n</reflect>\n</think>\n\n<answer>12</answer>"
)


def test_wrapper_records_what_the_reward_sees_and_writes_one_row_per_step(tmp_path):
    from sftrain.rewards import correctness_reward, format_reward
    from sftrain.rl_log import RLSkillLog

    run = RunDir(tmp_path / "r").init({})
    log = RLSkillLog(run, arm="skillfactory")
    funcs = log.wrap([format_reward, correctness_reward])
    assert funcs[0] is format_reward and funcs[1].__name__ == "correctness_reward"  # TRL's column name kept
    data = json.dumps({"a": 3, "b": 4})
    comps = [[{"role": "assistant", "content": TAGGED}], "<answer>13</answer>"]
    kw = {"task": ["multiplication"] * 2, "data": [data] * 2, "answer": ["12"] * 2}
    assert funcs[1](comps, completion_ids=[[1, 2, 3], [4]], **kw) == [1.0, 0.0]
    assert log.write(5, {"reward": 0.55, "loss": 0.1})
    assert not log.write(6, {"reward": 0.0})  # nothing sampled since: no row
    df = run.read("rl_log")
    assert df.height == 1
    r = df.row(0, named=True)
    assert (r["arm"], r["step"], r["completions"], r["reward_mean"], r["accuracy"]) == ("skillfactory", 5, 2, 0.55, 0.5)
    assert r["completion_tokens"] == 2.0 and r["samples_per_answer"] == 1.0  # 2 samples in one of two completions
    assert r["retry_rate"] == 0.5 and r["tagged_verdict_rate"] == 0.5 and r["keyword_cue_rate"] == 0.5
    # the step's verdicts are checked against the reward's own question (11: Incorrect is right, 12: Correct is right)
    assert r["verdict_accuracy"] == 1.0 and r["verdict_f1_correct"] == 1.0 and r["verdict_f1_incorrect"] == 1.0
    funcs[1](comps[:1], **{k: v[:1] for k, v in kw.items()})
    assert log.write(5, {}) is False  # same arm + step already logged (a resumed run): kept once
    assert run.read("rl_log").height == 1


def test_rl_log_step_metrics_score_verdicts_per_class_and_skip_glue(tmp_path):
    """One step with known verdict confusion: Correct class TP 1, FP 1, FN 1; Incorrect class TN 1."""
    from sftrain.rl_log import RLSkillLog

    run = RunDir(tmp_path / "r").init({})
    log = RLSkillLog(run, arm="rl_only")
    reward = log.wrap([lambda completions, **kw: [0.0] * len(completions)])[0]
    S = "<sample><answer>{}</answer></sample><reflect><verdict>{}</verdict></reflect>"
    texts = [
        "<think>" + S.format("12", "Correct") + S.format("11", "Correct") + "</think><answer>12</answer>",  # TP, FP
        "<think>" + S.format("12", "Incorrect") + S.format("13", "Incorrect") + "</think><answer>13</answer>",  # FN, TN
        "Let me double-check by working through it again. <answer>12</answer>",  # a glue phrase, no cue of its own
    ]
    data = json.dumps({"a": 3, "b": 4})
    reward(texts, task=["multiplication"] * 3, data=[data] * 3, answer=["12"] * 3)
    assert log.write(1, {})
    r = run.read("rl_log").row(0, named=True)
    assert r["tagged_verdict_rate"] == pytest.approx(2 / 3) and r["keyword_cue_rate"] == 0.0
    assert r["verdict_precision_correct"] == 0.5 and r["verdict_recall_correct"] == 0.5
    assert r["verdict_precision_incorrect"] == 0.5 and r["verdict_recall_incorrect"] == 0.5
    assert r["verdict_f1_correct"] == 0.5 and r["verdict_accuracy"] == 0.5


@pytest.mark.slow
def test_grpo_writes_one_rl_log_row_per_logged_step(tmp_path):
    from sftrain.rl import RLRunConfig, run_rl
    from sftrain.rl_log import RLSkillLog, skill_rates

    seen: list[list[str]] = []

    run = RunDir(tmp_path / "run").init({})
    cfg = RLRunConfig(
        model=str(tiny_model_dir()),
        output_dir=str(tmp_path / "rl"),
        task="multiplication",
        level=1,
        n_questions=4,
        extra_rewards=("tests.sftrain.test_rl_log:spy_reward",),
        overrides={
            "max_steps": 2,
            "max_completion_length": 8,
            "num_generations": 2,
            "per_device_train_batch_size": 2,
        },
    )
    SPY.clear()
    log = RLSkillLog(run, arm="rl_only")
    s = run_rl(cfg, skill_log=log)
    seen = list(SPY)
    df = run.read("rl_log").sort("step")
    assert s["steps"] == 2 and df["step"].to_list() == [1, 2] and df["arm"].to_list() == ["rl_only"] * 2
    assert df["completions"].to_list() == [len(b) for b in seen] == [2, 2]
    for row, texts in zip(df.iter_rows(named=True), seen):  # the counts are the detector's over those very texts
        assert row["accuracy"] == 0.0 and row["reward_mean"] == pytest.approx(s["rewards"][row["step"] - 1])
        assert {k: row[k] for k in skill_rates(texts)} == skill_rates(texts)
        assert 0 < row["completion_tokens"] <= 8


SPY: list[list[str]] = []


def spy_reward(completions, **_):
    """Records each batch the reward functions see (a second, independent view of the same completions)."""
    from sftrain.rl_log import _text

    SPY.append([_text(c) for c in completions])
    return [0.0] * len(completions)


def test_only_process_zero_writes_and_other_ranks_drop_their_share(tmp_path):
    from types import SimpleNamespace

    from sftrain.rl_log import RLSkillLog

    run = RunDir(tmp_path / "r").init({})
    log = RLSkillLog(run, arm="a")
    cb = log.callback()
    log.texts, log.scores = [TAGGED], [1.0]
    cb.on_log(None, SimpleNamespace(is_world_process_zero=False, global_step=1), None, logs={"reward": 1.0})
    assert log.texts == [] and not run.has("rl_log")  # rank > 0: nothing written, nothing carried over
    log.texts, log.scores = [TAGGED], [1.0]
    cb.on_log(None, SimpleNamespace(is_world_process_zero=True, global_step=2), None, logs={"reward": 1.0})
    assert run.read("rl_log")["step"].to_list() == [2]
