"""`sf run CONFIG --dry-run`: validates every section with the real config classes and prints the plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfdata.app.cli.main import main
from sfdata.app.pipeline import load_config
from sfdata.app.plan import make_plan, params_from_name

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def test_dry_run_of_the_paper_config_prints_arms_counts_and_gpu_hours(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written: the run dir must not appear
    assert main(["run", str(CONFIGS / "paper.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "rollouts     256,000" in out and "reflections  1,024,000" in out  # 4000 x 4 variants x 16, x 4
    for arm in ("base:", "rl_only:", "skillfactory:", "star:", "r1:"):
        assert f"  {arm}\n" in out
    assert (
        "GRPO 1200 steps on 1000 questions" in out
    )  # the preset: 150 rollout steps x 8 updates and "SkillFactory/SFT_DATA-cd3args-baseline-R1-Annotated" in out
    assert "GPU-hours on 1x H100" in out and "sampling 20,000 tok/s" in out
    assert not (tmp_path / "runs").exists()


def test_paper_plan_numbers():
    p = make_plan(load_config(CONFIGS / "paper.toml"))
    # *C_full: one trace per N = 1..5; star: up to every sample (4 variants x 16) of each of 4000 questions
    assert p["params_b"] == 1.5 and p["data"]["traces"] == 4000 * 5 + 4000 * 64 and p["data"]["star_traces"] == 256000
    arms = {a["arm"]: a for a in p["arms"]}
    assert [s["kind"] for s in arms["skillfactory"]["steps"]] == ["sft", "rl"] and arms["base"]["steps"] == []
    assert arms["skillfactory"]["steps"][0]["examples"] == 20000 and arms["star"]["steps"][0]["examples"] == 256000
    mini = {a["arm"]: a for a in make_plan(load_config(CONFIGS / "experiment_mini.toml"))["arms"]}
    assert mini["skillfactory"]["steps"][0]["examples"] == 24 * 4  # default mix: 0C, *C, *C*IC, *CC of 24 questions
    assert arms["r1"]["steps"][0]["examples"] is None  # a published set's size is known only when loaded
    assert p["hours"] > 1 and p["tokens_to_generate_max"] == pytest.approx(2 * p["tokens_to_generate"])


@pytest.mark.parametrize("name", ["demo.toml", "experiment_mini.toml", "tiny_test.toml"])
def test_dry_run_of_every_shipped_config(name, capsys):
    assert main(["run", str(CONFIGS / name), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "estimate: ~" in out
    if name != "tiny_test.toml":
        assert "CPU-hours" in out and "questions    24" in out


def test_mini_plan_covers_every_arm():
    p = make_plan(load_config(CONFIGS / "experiment_mini.toml"))
    assert [a["arm"] for a in p["arms"]] == ["base", "rl_only", "skillfactory", "star"]
    assert p["unit"] == "CPU-hours" and p["hours"] < 1.0


@pytest.mark.parametrize(
    "edit, message",
    [
        ("[reflct]\nk = 1\n", "unknown section(s) [reflct]"),
        ("[experiment]\narms = ['base', 'rlonly']\n", "arm(s) rlonly not defined"),
        ("[experiment]\n[experiment.rl]\nlearning_rate = 1\n", "unknown option(s) for RLRunConfig: learning_rate"),
        ("[experiment]\narms = ['star']\n[build]\nformats = ['*C']\n", 'the star arm needs "star" in [build].formats'),
        ("[experiment]\narms = ['skillfactory']\n", "no [build] section"),
        ("[experiment.arm.x]\nsteps = [{kind = 'dpo'}]\n[experiment]\narms=['x']\n", "step kind 'dpo' unknown"),
        (
            "[experiment.arm.x]\nsteps = [{kind = 'sft', formats = ['*Q']}]\n[experiment]\narms=['x']\n",
            "unknown trace format",
        ),
        ("[generate]\nn = 2\ntemprature = 1.0\n", "[generate]: unknown option(s) for GenerateConfig: temprature"),
        ("[plan]\nprofile = 'tpu'\n", "profile 'tpu' unknown"),
    ],
)
def test_a_broken_config_fails_with_a_clear_error(edit, message, tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[run]\nname = 'x'\n[questions]\nn = 2\n" + edit)
    assert main(["run", str(cfg), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_params_from_model_names():
    assert params_from_name("Qwen/Qwen2.5-1.5B-Instruct") == 1.5
    assert params_from_name("allenai/Olmo-7B-Instruct") == 7
    assert params_from_name(None) == 0.135 and params_from_name("some/model") is None


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("n_questions = 16 ", "n_questions = 32 ", "[experiment.rl]: RL questions held out from the data questions"),
        # eval on one-digit products: 10 left after the data and RL questions, fewer than 96
        ('tasks = ["multiplication:2"]', 'tasks = ["multiplication:1"]', "[experiment.eval]: eval questions held out"),
    ],
)
def test_dry_run_catches_too_few_held_out_questions(old, new, message, tmp_path, capsys):
    """One-digit multiplication has 45 order-free pairs: after the 24 data questions only 26 remain for RL, and
    after 16 RL questions only 10 for eval. The run would fail an hour in; the dry run draws them and says so."""
    text = (Path(__file__).parents[3] / "configs" / "experiment_mini.toml").read_text()
    assert old in text
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text.replace(old, new))
    assert main(["run", str(cfg), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert message in err and "ask for at most" in err and "Traceback" not in err
    assert main(["run", str(cfg), "--run", str(tmp_path / "run")]) == 1  # the real run checks first, writes nothing
    assert message in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "old, new",
    [
        ("max_tokens = 160", "max_tokens = 160\nfewshot = 0"),  # eval zero-shot, SFT and RL one-shot
        ("level = 1\nn_questions = 16", 'level = 1\nprompt = "original, 0-shot"\nn_questions = 16'),  # RL
        ("[experiment.sft]\n", '[experiment.sft]\nprompt = "rephrase, 1-shot"\n'),  # SFT user turns
    ],
)
def test_dry_run_refuses_an_experiment_whose_sft_rl_and_eval_prompts_differ(old, new, tmp_path, capsys):
    text = (CONFIGS / "experiment_mini.toml").read_text()
    assert main(["run", str(CONFIGS / "experiment_mini.toml"), "--dry-run"]) == 0
    assert "every arm asked 'original, 1-shot'" in capsys.readouterr().out
    assert old in text
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text.replace(old, new, 1))
    assert main(["run", str(cfg), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "SFT, RL and eval prompts differ" in err and "Traceback" not in err
