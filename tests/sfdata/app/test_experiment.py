"""Every arm of configs/experiment_mini.toml end to end with a tiny model and sizes patched down:
SFT on the run's SkillFactory / STaR traces, GRPO with rl_log, eval per step, table and report, resume."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from sfdata.app.pipeline import load_config, run_pipeline
from sfdata.factory.build import BuildConfig
from sfdata.factory.mix import SFT_DEFAULT_FORMATS, select_traces
from sfdata.stagecfg import from_dict
from sfdata.synth import make_run
from tests.helpers import tiny_model_dir

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "experiment_mini.toml"


def shrunk(config: dict, model: str) -> dict:
    """The mini config with tiny sizes: 1-2 steps per training step, one question per eval level."""
    exp = config["experiment"]
    exp["model"] = model
    # 512: the config's one-shot prompt (a Countdown demonstration, then the question) is ~320 tokens before the trace
    small = {"per_device_train_batch_size": 2, "max_length": 512, "learning_rate": 1e-3}
    exp["sft"]["overrides"] = {**small, "max_steps": 1}
    exp["rl"]["n_questions"] = 2
    exp["rl"]["overrides"] = {"max_steps": 2, "max_completion_length": 8, "num_generations": 2}
    exp["rl"]["overrides"]["per_device_train_batch_size"] = 2
    # the mechanics need several task:levels (the shipped config evaluates one, multiplication:2)
    exp["eval"].update(
        tasks=["multiplication:1,2", "countdown:3,4"], n_questions=1, max_tokens=8, engine="transformers"
    )
    # the data stages are covered elsewhere; a synthetic run stands in for generate/grade/reflect
    return {"run": config["run"], "build": {**config["build"], "n": 2}, "experiment": exp}


@pytest.mark.slow
def test_every_arm_end_to_end_and_resume(tmp_path):
    run = make_run(tmp_path / "run", n_questions=4, n=2, k=1, p_correct=0.5, seed=3)
    from_dict(BuildConfig, load_config(CONFIG)["build"])  # the shipped build section is valid as is
    cfg = shrunk(load_config(CONFIG), str(tiny_model_dir()))
    logs: list[str] = []
    out = run_pipeline(cfg, run.path, log=logs.append)
    info = out["stages"]["experiment"]
    assert set(info["arms"]) == {"base", "rl_only", "skillfactory", "star"}
    for arm, steps in (("rl_only", ["rl"]), ("skillfactory", ["sft", "rl"]), ("star", ["sft", "rl"])):
        for step in steps:
            folder = run.path / "models" / arm / step
            assert (folder / "config.json").is_file()
            assert run.manifest()["stages"][f"{arm}/{step}"]["status"] == "done"  # each arm step is a stage run
    rl_keys = [
        json.loads((run.path / "models" / a / "rl" / "sf_summary.json").read_text())["question_keys"]
        for a in ("rl_only", "skillfactory", "star")
    ]
    assert rl_keys[0] == rl_keys[1] == rl_keys[2] and rl_keys[0]  # every arm: the same RL questions
    star_sft = json.loads((run.path / "models" / "star" / "sft" / "sf_summary.json").read_text())
    sf_sft = json.loads((run.path / "models" / "skillfactory" / "sft" / "sf_summary.json").read_text())
    traces = run.read("traces")
    assert star_sft["examples"] == (traces["format"] == "star").sum() > 0  # STaR arm: only the STaR traces
    assert sf_sft["examples"] == select_traces(traces).height > 0  # SkillFactory arm: the default SFT mix
    assert set(select_traces(traces)["format"]) <= set(SFT_DEFAULT_FORMATS)

    ev = run.read("eval")
    per_model = 4  # multiplication:1,2 + countdown:3,4, one question each
    got = ev.group_by("arm", "stage").len().sort("arm", "stage").rows()
    assert got == [
        ("base", "base", per_model),
        ("rl_only", "rl", per_model),
        ("skillfactory", "rl", per_model),
        ("skillfactory", "sft", per_model),
        ("star", "rl", per_model),
        ("star", "sft", per_model),
    ]
    sets = ev.group_by("arm", "stage").agg(pl.col("question_id").sort())["question_id"].to_list()
    assert all(s == sets[0] for s in sets)  # one held-out eval set for every arm and stage
    log = run.read("rl_log")
    assert log.group_by("arm").agg(pl.col("step").sort()).sort("arm").rows() == [
        ("rl_only", [1, 2]),
        ("skillfactory", [1, 2]),
        ("star", [1, 2]),
    ]
    table = pl.DataFrame(info["table"])
    assert table.select("arm", "stage").rows()[0] == ("base", "base") and table.height == 6 * 4  # x task:level
    assert table.select("arm", "stage").unique().height == 6
    assert {"multiplication:1", "countdown:4"} <= set(table["task_level"])
    assert {"accuracy", "n_questions", "ci_lo", "ci_hi", "vs base", "sft_examples", "samples_per_answer"} <= set(
        table.columns
    )
    sft = {a: (e, t) for a, e, t in table.select("arm", "sft_examples", "sft_tokens").unique().rows()}
    assert sft["base"] == sft["rl_only"] == (0, 0) and min(sft["skillfactory"] + sft["star"]) > 0
    assert table["samples_per_answer"].null_count() == 0  # skills were detected on the eval outputs
    report = run.path / "report"
    assert {"experiment_table.md", "experiment_table.png", "rl_skill_use.png"} <= {p.name for p in report.iterdir()}

    # rerun (config changed for the eval only): every arm step is skipped, eval only fills what is missing
    cfg["experiment"]["eval"]["tasks"] = ["multiplication:1,2"]
    logs.clear()
    run_pipeline(cfg, run.path, log=logs.append)
    assert sum("done already, skipping" in m for m in logs) == 5
    assert run.read("eval").height == ev.height and run.read("rl_log").height == log.height

    # a changed SFT setting retrains that arm's chain (SFT and the RL after it) and drops its stale rows
    cfg["experiment"]["arms"] = ["star"]
    cfg["experiment"]["sft"]["overrides"]["learning_rate"] = 5e-4
    logs.clear()
    run_pipeline(cfg, run.path, log=logs.append)
    assert sum("star/sft: training" in m or "star/rl: training" in m for m in logs) == 2
    ev2 = run.read("eval")
    assert ev2.filter(pl.col("arm") == "star").height == 2 * 2  # re-evaluated on the new task list only
    assert run.read("rl_log").filter(pl.col("arm") == "star").height == 2


def _one_trace(run, q) -> None:
    from sfdata.store.run import now_utc

    row = {
        "trace_id": "t0",
        "question_id": q.question_id,
        "task": q.task,
        "format": "*C",
        "ablation": None,
        "purpose": "main",
        "n_samples": 1,
        "prompt": "the trace's own user turn",
        "trace": f"<think>\n<sample>\n<answer>{q.answer}</answer>\n</sample>\n</think>\n<answer>{q.answer}</answer>",
        "final_answer": q.answer,
        "is_correct": True,
        "rollout_ids": ["r0"],
        "reflection_ids": [""],
        "variants": ["original"],
        "n_correct": 1,
        "n_incorrect": 0,
        "n_retries": 0,
        "n_backtracks": 0,
        "n_confirms": 0,
        "seed": 0,
        "created_at": now_utc(),
    }
    run.append("traces", pl.DataFrame([row]))


def test_sft_rl_and_eval_are_asked_with_one_prompt_in_the_mini_experiment(tmp_path, monkeypatch):
    """The rendered chats themselves: the SFT example's user turns, the GRPO prompt and what eval sends."""
    from sfdata.app.experiment import ExperimentConfig, step_config
    from sfdata.engines.base import Completion
    from sfdata.store import RunDir
    from sfdata.tasks import Question, get_task, make_questions
    from sftrain.data import load_sft_rows
    from sftrain.eval import evaluate_model
    from sftrain.rl import rl_rows

    cfg = ExperimentConfig.from_dict(load_config(CONFIG)["experiment"])
    assert cfg.prompt == "original, 1-shot" and cfg.check_prompts() == "original, 1-shot"
    run = RunDir(tmp_path / "run").init({})
    qdf = make_questions("multiplication", 2, 0, level=1)
    run.write("questions", qdf)
    q = Question.from_row(qdf.row(0, named=True))
    _one_trace(run, q)
    sf = next(a for a in cfg.arm_configs() if a.name == "skillfactory")
    sft_cfg = step_config(cfg, sf.steps[0], None, "out", run.path)
    rl_cfg = step_config(cfg, sf.steps[1], None, "out", run.path)
    sft_chat = load_sft_rows(sft_cfg.data, formats=sft_cfg.formats, prompt=sft_cfg.prompt)[0]["prompt"]
    rl_chat = rl_rows([q], rl_cfg.prompt)[0]["prompt"]

    sent: list = []

    class Recording:
        def generate(self, prompts, sampling, seeds=None):
            sent.extend(prompts)
            return [[Completion("<answer>1</answer>", 3, 4)] for _ in prompts]

        def close(self):
            pass

    monkeypatch.setattr("sfdata.engines.get_engine", lambda kind, model, **_: Recording())
    ev_cfg = cfg.eval_config()
    evaluate_model(run, "m", "base", ev_cfg, questions=[(get_task(q.task), q)], fewshot=ev_cfg.fewshot)
    assert sft_chat == rl_chat == sent[0]
    assert [m["role"] for m in sent[0]] == ["user", "assistant", "user"]  # one demonstration, then the question
    assert run.read("eval")["prompt_setup"].to_list() == ["original, 1-shot"]


@pytest.mark.parametrize(
    "section, key, value",
    [("eval", "fewshot", 0), ("eval", "variant", "rephrase"), ("rl", "prompt", "original, 0-shot")],
)
def test_an_experiment_whose_prompts_differ_is_refused(section, key, value):
    from sfdata.app.experiment import ExperimentConfig

    exp = load_config(CONFIG)["experiment"]
    exp[section][key] = value
    with pytest.raises(ValueError, match="SFT, RL and eval prompts differ"):
        ExperimentConfig.from_dict(exp).check_prompts()
