"""The experiment's `launcher` setting: validated when the config is made, a step's own launcher wins, and the
accelerate command is `accelerate launch ... -m sfdata.app sft|rl` with the step's settings in a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfdata.app.experiment import ExperimentConfig
from sfdata.app.launcher import LauncherConfig, accelerate_command

CPU_DDP = str(Path(__file__).resolve().parents[3] / "configs" / "accelerate" / "cpu_ddp.yaml")


def test_bad_launchers_fail_when_the_config_is_made():
    with pytest.raises(ValueError, match="launcher kind 'torchrun' unknown"):
        ExperimentConfig.from_dict({"launcher": {"kind": "torchrun"}})
    with pytest.raises(ValueError, match="does not exist"):
        ExperimentConfig.from_dict({"launcher": {"kind": "accelerate", "config_file": "nope.yaml"}})
    with pytest.raises(ValueError, match="at least 1"):
        ExperimentConfig.from_dict(
            {"arms": ["x"], "arm": {"x": {"steps": [{"kind": "rl", "launcher": {"num_processes": 0}}]}}}
        )


def test_a_steps_own_launcher_wins_and_inline_is_the_default():
    cfg = ExperimentConfig.from_dict(
        {
            "arms": ["rl_only", "mine"],
            "launcher": {"kind": "accelerate", "num_processes": 2, "config_file": CPU_DDP},
            "arm": {"mine": {"steps": [{"kind": "sft"}, {"kind": "rl", "launcher": {"kind": "inline"}}]}},
        }
    )
    rl_only, mine = cfg.arm_configs()
    assert cfg.launcher_for(rl_only.steps[0]).kind == "accelerate"
    assert cfg.launcher_for(mine.steps[0]).num_processes == 2
    assert cfg.launcher_for(mine.steps[1]).kind == "inline"
    assert ExperimentConfig.from_dict({}).launcher_for(None) == LauncherConfig()


def test_the_accelerate_command_runs_sf_as_a_module(tmp_path):
    step = tmp_path / "step.json"
    step.write_text(json.dumps({"preset": "cpu"}))
    launcher = LauncherConfig(kind="accelerate", num_processes=2, config_file=CPU_DDP, main_process_port=29999)
    cmd = accelerate_command(launcher, "rl", ["--step-config", str(step)])
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    assert cmd[3:] == [
        "--config_file",
        CPU_DDP,
        "--num_processes",
        "2",
        "--main_process_port",
        "29999",
        "-m",
        "sfdata.app",
        "rl",
        "--step-config",
        str(step),
    ]
    # what the child parses: `sf rl --step-config FILE` takes every setting from the file, flags on top
    from sfdata.app.cli.main import build_parser
    from sfdata.app.cli.rl import run  # noqa: F401  (the command module the child runs)

    parser, _ = build_parser("rl")
    args = parser.parse_args(["--step-config", str(step), "--log-run", str(tmp_path), "--arm", "a"])
    assert args.step_config == step and args.arm == "a"
