"""Helpers shared by subcommands: the run argument, output options, and the stage-command plumbing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sfdata.output import cell, console, emit, err, esc

__all__ = [
    "add_output_args",
    "add_stage_args",
    "cell",
    "console",
    "emit",
    "err",
    "esc",
    "existing_run",
    "json_section",
    "run_stage_command",
]


def existing_run(path: Path):
    from sfdata.store import RunDir

    run = RunDir(path)
    if not run.exists():
        raise FileNotFoundError(
            f"run directory {path} does not exist (create it with `sf questions {path}` or `sf run CONFIG`)"
        )
    return run


def json_section(path: Path | None) -> dict[str, Any]:
    """The settings a `--step-config` JSON file holds ({} without one); one line when it is not a JSON object."""
    import json

    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read settings from {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds no JSON object of settings")
    return data


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", dest="fmt", default="table", choices=["table", "csv", "json", "parquet"])
    p.add_argument("--out", type=Path, default=None, help="write to this file instead of stdout (required for parquet)")
    p.add_argument("--limit", type=int, default=200, help="rows shown in table format")


def add_stage_args(p: argparse.ArgumentParser, stage: str, skip: tuple[str, ...] = ()) -> None:
    """The run directory, `--config FILE`, `--force`, and one flag per field of the stage's config class."""
    from sfdata.app.stages import get_stage
    from sfdata.stagecfg import add_config_args

    p.add_argument("run", type=Path, help="run directory (e.g. runs/demo)")
    p.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        default=None,
        help=f"TOML/YAML config whose [{stage}] section (and [run] model/engine) sets defaults; flags override it",
    )
    p.add_argument("--force", action="store_true", help="run even if done already with the same config and inputs")
    cls = get_stage(stage).config_class()
    if cls is not None:
        add_config_args(p, cls, skip=skip)


def stage_config(args: argparse.Namespace, stage: str, extra: dict[str, Any] | None = None) -> Any:
    """The stage's config: the config file's section, then `extra`, then the command line's flags on top."""
    from sfdata.app.pipeline import section_for
    from sfdata.app.stages import get_stage
    from sfdata.stagecfg import config_from, load_config

    st = get_stage(stage)
    file_cfg = load_config(args.config_file) if args.config_file else {}
    section = {**section_for(file_cfg, st), **(extra or {})}
    cls = st.config_class()
    return config_from(cls, section, args) if cls is not None else st.make_config(section)


def run_stage_command(args: argparse.Namespace, stage: str, run=None, extra: dict[str, Any] | None = None, **kw):
    """Run one stage through the shared runner (same bookkeeping as `sf run`); returns its info."""
    from sfdata.app.stages import run_stage

    run = run if run is not None else existing_run(args.run)
    cfg = stage_config(args, stage, extra)

    def log(msg: str) -> None:  # say why a stage recorded as done runs again (e.g. a deleted part)
        if "running again" in msg:
            console.print(msg, markup=False, highlight=False, soft_wrap=True)

    info = run_stage(run, stage, cfg, force=args.force, log=log, **kw)
    if info.get("skipped") is True:
        console.print(f"{stage}: done already with this config and inputs (--force reruns it)", markup=False)
    return info
