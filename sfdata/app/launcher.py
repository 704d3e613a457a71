"""How an experiment's arm step trains: in this process (`inline`), or as `accelerate launch ... -m sfdata.app
sft|rl` on several processes (`accelerate`), the parent still recording the step's stage.

The child gets the step's exact settings as a JSON file (`--step-config`), writes the model and its
`sf_summary.json` from process 0, and (GRPO) appends the rl_log rows of every process's completions to the run.
The parent holds the run's writer lock meanwhile; appends take no run lock, so the child is not blocked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sfdata.stagecfg import from_dict

KINDS = ("inline", "accelerate")


@dataclass
class LauncherConfig:
    """`[experiment.launcher]` (or a step's `launcher = {...}`): where an arm step trains."""

    kind: str = "inline"  # "inline": this process; "accelerate": `accelerate launch` as a child process
    num_processes: int | None = None  # accelerate: processes (None = the config file's)
    config_file: str | None = None  # accelerate: its --config_file, e.g. configs/accelerate/cpu_ddp.yaml
    main_process_port: int | None = None  # accelerate: rendezvous port (None = a free one, so runs never collide)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"launcher kind {self.kind!r} unknown; use one of {', '.join(KINDS)}")
        if self.num_processes is not None and self.num_processes < 1:
            raise ValueError(f"launcher num_processes must be at least 1, got {self.num_processes}")
        if self.config_file is not None and not Path(self.config_file).is_file():
            raise ValueError(f"launcher config_file {self.config_file} does not exist")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LauncherConfig:
        return from_dict(cls, dict(d or {}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accelerate_command(launcher: LauncherConfig, kind: str, step_args: list[str]) -> list[str]:
    """`accelerate launch [--config_file F] [--num_processes N] --main_process_port P -m sfdata.app KIND ARGS`."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if launcher.config_file:
        cmd += ["--config_file", str(launcher.config_file)]
    if launcher.num_processes is not None:
        cmd += ["--num_processes", str(launcher.num_processes)]
    cmd += ["--main_process_port", str(launcher.main_process_port or _free_port())]
    return [*cmd, "-m", "sfdata.app", kind, *step_args]


def launch_step(
    kind: str, step_cfg: Any, launcher: LauncherConfig, *, log_run: Any = None, arm: str = "", log: Callable = print
) -> dict[str, Any]:
    """Train one step (`kind` "sft" | "rl" with its SFTRunConfig / RLRunConfig) under `accelerate launch`;
    returns the summary process 0 wrote. A failed child raises one line with the end of its output."""
    out = Path(step_cfg.output_dir)
    settings = {k: v for k, v in asdict(step_cfg).items() if k != "data"}
    with tempfile.TemporaryDirectory(prefix="sf-step-") as tmp:
        cfg_file = Path(tmp) / "step.json"
        cfg_file.write_text(json.dumps(settings), encoding="utf-8")
        args = [str(step_cfg.data)] if kind == "sft" else []
        args += ["--step-config", str(cfg_file)]
        if kind == "rl" and log_run is not None:
            args += ["--log-run", str(Path(log_run)), "--arm", arm]
        cmd = accelerate_command(launcher, kind, args)
        log(f"[launcher] {' '.join(cmd[2:])}")
        (out / "sf_summary.json").unlink(missing_ok=True)  # a summary from an earlier run must not pass for this one
        tail: deque[str] = deque(maxlen=15)
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail.append(line.rstrip())
                log(line.rstrip())
        if proc.returncode != 0:
            raise RuntimeError(
                f"`accelerate launch ... sf {kind}` exited {proc.returncode}; its last lines: " + " | ".join(tail)
            )
    try:
        summary = json.loads((out / "sf_summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RuntimeError(f"`accelerate launch ... sf {kind}` wrote no readable summary in {out}: {e}") from e
    summary.pop("config", None)
    summary.pop("question_keys", None)
    return summary
