"""`sf run CONFIG`: every stage in order from one TOML/YAML config.

A stage runs when its section is present; `sfdata.app.stages.run_stage` does the bookkeeping
(skip when done with the same config and inputs, resume an interrupted stage, manifest entry),
the same runner the single-stage commands use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfdata.app.stages import STAGES, Stage, run_stage
from sfdata.redact import redact, redact_text
from sfdata.stagecfg import load_config
from sfdata.store import RunDir

SHARED_KEYS = ("model", "engine", "base_url")  # [run] defaults passed to the sections whose config has them

__all__ = ["SHARED_KEYS", "load_config", "run_dir_of", "run_pipeline", "section_for"]


def run_dir_of(config: dict[str, Any]) -> str:
    run = config.get("run", {})
    return run.get("dir") or f"runs/{run.get('name', 'default')}"


def section_for(config: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """The stage's section with the [run] defaults (model, engine) it accepts filled in."""
    raw = dict(config.get(stage.name) or {})
    cls = stage.config_class()
    fields = getattr(cls, "__dataclass_fields__", {})
    for key in SHARED_KEYS:
        if key in config.get("run", {}) and key not in raw and key in fields:
            raw[key] = config["run"][key]
    return raw


def run_pipeline(
    config: dict[str, Any],
    run_dir: str | Path | None = None,
    force: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the config's stages in registry order; returns `{"run": path, "stages": {name: info}}`."""
    unknown = sorted((set(force) | set(only)) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    run_dir = run_dir or run_dir_of(config)
    run = RunDir(run_dir)
    redact(config)  # learn the config's secrets so every log line and error below has them masked
    log = _masked(log)
    with run.lock(f"sf run {run_dir}"):  # one writer per run, for every stage below
        return _run_stages(run.init(config), config, force, only, log)


def _masked(log: Callable[[str], None]) -> Callable[[str], None]:
    return lambda msg: log(redact_text(msg))


def _run_stages(run: RunDir, config: dict[str, Any], force, only, log) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for stage in STAGES.values():
        if stage.name not in config or (only and stage.name not in only):
            continue
        cfg = stage.make_config(section_for(config, stage))
        summary[stage.name] = run_stage(run, stage, cfg, force=stage.name in force, log=log)
    return {"run": str(run.path), "stages": summary}
