"""The experiment table (rows = arm x stage x task:level: accuracy with n and interval, budget forcing, paired
differences, SFT sizes, skill use) from eval rows we construct."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from sfdata.app.experiment_report import arm_table, display_columns, experiment_table, markdown, write_experiment_report
from sfdata.skills import skills_stage
from sfdata.stats import wilson
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.synth import eval_row

RETRY = (
    "<think>\n<sample>\n<answer>11</answer>\n</sample>\n<reflect>\n<verdict>Incorrect</verdict>\n</reflect>\n"
    "<sample>\n<answer>12</answer>\n</sample>\n<reflect>\n<verdict>Correct</verdict>\n</reflect>\n</think>\n"
    "<answer>12</answer>"
)
PLAIN = "The answer is <answer>12</answer>"


def _rows(arm, stage, task, level, oks, text, t):
    return [
        eval_row(
            eval_id=stable_id(arm, stage, task, level, i),
            arm=arm,
            stage=stage,
            task=task,
            level=level,
            question_id=f"{task}{level}-{i}",
            prompt_setup="original, 1-shot",
            response=text,
            extracted_answer="12",
            is_correct=ok,
            reason="correct" if ok else "wrong_value",
            completion_tokens=5,
            created_at=t,
        )
        for i, ok in enumerate(oks)
    ]


@pytest.fixture
def run(tmp_path):
    run = RunDir(tmp_path / "exp").init({})
    t0 = now_utc()
    rows = []
    # arm order in the table = order the arms were evaluated in (config order)
    for k, (arm, stage, cd3, mul2, text) in enumerate(
        [
            ("base", "base", [False, False], [True, False], PLAIN),
            ("rl_only", "rl", [True, False], [True, False], PLAIN),
            ("skillfactory", "sft", [True, False], [False, False], RETRY),
            ("skillfactory", "rl", [True, True], [True, True], RETRY),
        ]
    ):
        t = t0 + timedelta(seconds=k)
        rows += _rows(arm, stage, "countdown", 3, cd3, text, t) + _rows(arm, stage, "multiplication", 2, mul2, text, t)
    forced = _rows("base", "base", "countdown", 3, [True, True], PLAIN, t0)
    for r in forced:  # budget-forced rows are not part of the plain table
        r["budget_rounds"], r["eval_id"] = 1, r["eval_id"] + "bf"
    run.append("eval", pl.DataFrame(rows + forced))
    return run


ROWS = [
    ("base", "base", "countdown:3"),
    ("base", "base", "multiplication:2"),
    ("rl_only", "rl", "countdown:3"),
    ("rl_only", "rl", "multiplication:2"),
    ("skillfactory", "sft", "countdown:3"),
    ("skillfactory", "sft", "multiplication:2"),
    ("skillfactory", "rl", "countdown:3"),
    ("skillfactory", "rl", "multiplication:2"),
]


def test_table_rows_are_arms_by_stage_by_task_level_with_n_interval_and_skill_use(run):
    before = experiment_table(run)  # skills not detected yet: accuracy is there, skill use is NULL
    assert before["samples_per_answer"].null_count() == before.height == 8
    skills_stage(run)
    t = experiment_table(run)
    assert t.select("arm", "stage", "task_level").rows() == ROWS
    assert t["acc"].to_list() == [0.0, 0.5, 0.5, 0.5, 0.5, 0.0, 1.0, 1.0]
    assert t["n_questions"].to_list() == [2] * 8 and t["answers"].to_list() == [2] * 8
    lo, hi = wilson(1, 2)
    assert (t["ci_lo"][2], t["ci_hi"][2]) == (round(lo, 4), round(hi, 4))
    assert t["samples_per_answer"].to_list() == [0.0] * 4 + [2.0] * 4
    assert t["retry_rate"].to_list() == [0.0] * 4 + [1.0] * 4 and t["tagged_verdict_rate"].to_list()[4:] == [1.0] * 4
    assert t["backtrack_rate"].to_list() == [0.0] * 8


def test_arm_table_has_intervals_budget_rounds_paired_differences_and_sft_sizes(run):
    # the stage runtime records each arm step's info in the manifest (key ARM/STEP)
    for step, info in (("sft", {"examples": 120, "tokens": 45000}), ("rl", {"steps": 3})):
        run.set_stage(f"skillfactory/{step}", "done", config_hash="h", inputs="i", info=info)
    t = arm_table(run, ["base", "rl_only", "skillfactory"])
    assert t.select("arm", "stage", "task_level").rows() == ROWS
    assert t["accuracy"][2] == "0.50 [0.09, 0.91] (2)"
    # budget forcing: one column per forced round, per arm (only base was forced here), gain paired vs plain
    assert t["bf1"].to_list()[:2] == ["1.00 [0.34, 1.00] (2)", None] and t["bf1"].null_count() == 7
    assert t["bf1 gain"][0] == "+1.00 [+1.00, +1.00]"
    # paired differences on the same questions: rl_only vs base, SkillFactory vs base and vs rl_only
    assert t["vs base"].to_list() == [None, None, "+0.50 [+0.00, +1.00]", "+0.00 [+0.00, +0.00]"] + [
        "+0.50 [+0.00, +1.00]",
        "-0.50 [-1.00, +0.00]",
        "+1.00 [+1.00, +1.00]",
        "+0.50 [+0.00, +1.00]",
    ]
    assert t["vs rl_only"].to_list()[:4] == [None] * 4 and t["vs rl_only"][6] == "+0.50 [+0.00, +1.00]"
    assert t["sft_examples"].to_list() == [0] * 4 + [120] * 4 and t["sft_tokens"].to_list()[-1] == 45000
    shown = display_columns(t)
    assert shown[:5] == ["arm", "stage", "prompt", "task_level", "accuracy"] and "vs base_diff" not in shown


def test_report_writes_csv_markdown_and_png(run):
    from sftrain.rl_log import RLSkillLog

    skills_stage(run)
    log = RLSkillLog(run, arm="skillfactory")
    for step in (1, 2):
        log.texts, log.scores = [RETRY, PLAIN], [1.0, 0.0]
        log.write(step, {"reward": 0.5})
    info = write_experiment_report(run)
    out = run.path / "report"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "experiment_table.csv",
        "experiment_table.md",
        "experiment_table.png",
        "rl_skill_use.csv",
        "rl_skill_use.png",
    ]
    csv = pl.read_csv(out / "experiment_table.csv")
    assert csv.height == 8 and info["rl_steps"] == 2
    assert {"n_questions", "acc", "ci_lo", "ci_hi", "vs base_diff", "vs base_lo", "vs base_hi"} <= set(csv.columns)
    md = (out / "experiment_table.md").read_text()
    assert md.splitlines()[0].startswith("| arm | stage | prompt | task_level | accuracy | bf1 | bf1 gain | vs base |")
    assert "| skillfactory | rl | original, 1-shot | countdown:3 | 1.00 [0.34, 1.00] (2) | - | - |" in md
    for png in ("experiment_table.png", "rl_skill_use.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pl.read_csv(out / "rl_skill_use.csv")["samples_per_answer"].to_list() == [1.0, 1.0]


def test_markdown_marks_missing_values():
    assert markdown(pl.DataFrame({"a": [None, 0.25]})) == "| a |\n|---|\n| - |\n| 0.25 |\n"


def test_rows_follow_the_configs_arm_order(run):
    from sfdata.app.experiment_report import in_arm_order

    t = in_arm_order(experiment_table(run), ["skillfactory", "base"])
    assert t.select("arm", "stage").unique(maintain_order=True).rows() == [
        ("skillfactory", "sft"),
        ("skillfactory", "rl"),
        ("base", "base"),
        ("rl_only", "rl"),
    ]
