"""`sf run CONFIG`: every stage in order from one TOML/YAML config.

A stage runs when its section is present. It is skipped when the manifest says it is done
with the same config hash; an interrupted stage simply runs again and, being resumable,
only fills what is missing. Later stages (build, skills, report, sft, eval) are imported by
name so this module stays light.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from sfdata.redact import redact, redact_text
from sfdata.stagecfg import config_hash
from sfdata.store import RunDir


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        cfg = yaml.safe_load(text) or {}
    else:
        import tomllib

        try:
            cfg = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: invalid TOML: {e}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: the config must be a table/mapping")
    return cfg


@dataclass
class QuestionsConfig:
    task: str = "countdown"
    n: int = 16
    level: int | None = None
    seed: int = 0
    split: str = "train"
    options: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d):
        from sfdata.stagecfg import from_dict

        return from_dict(cls, d)


def questions_stage(run: RunDir, cfg: QuestionsConfig) -> dict[str, Any]:
    import polars as pl

    from sfdata.tasks import make_questions

    new = make_questions(cfg.task, cfg.n, cfg.seed, level=cfg.level, split=cfg.split, **(cfg.options or {}))
    old = run.read("questions")
    merged = pl.concat([old, new]).unique("question_id", keep="first", maintain_order=True)
    run.write("questions", merged)
    return {"questions": merged.height, "added": merged.height - old.height}


# (stage, config section, module, function, config class)
STAGES: list[tuple[str, str, str, str, str]] = [
    ("questions", "questions", "sfdata.pipeline", "questions_stage", "sfdata.pipeline.QuestionsConfig"),
    ("generate", "generate", "sfdata.rollouts", "generate_stage", "sfdata.rollouts.GenerateConfig"),
    ("grade", "grade", "sfdata.grading", "grade_stage", ""),
    ("reflect", "reflect", "sfdata.reflect", "reflect_stage", "sfdata.reflect.ReflectConfig"),
    ("build", "build", "sfdata.factory.build", "build_stage", "sfdata.factory.build.BuildConfig"),
    (
        "sft",
        "sft",
        "sftrain.sft",
        "sft_stage",
        "sftrain.sft.SFTStageConfig",
    ),  # skills/report last: they cover eval outputs too
    ("eval", "eval", "sftrain.eval", "eval_stage", "sftrain.eval.EvalConfig"),
    # arms (base / RL only / SFT -> RL ...), each trained and evaluated; resumable arm step by arm step
    ("experiment", "experiment", "sftrain.experiment", "experiment_stage", "sftrain.experiment.ExperimentConfig"),
    ("skills", "skills", "sfdata.skills", "skills_stage", ""),
    ("report", "report", "sfdata.report", "report_stage", ""),
]

_SHARED_KEYS = ("model", "engine")  # top-level defaults passed to sections that accept them


def stage_config(config: dict[str, Any], section: str, cfg_cls: str) -> tuple[dict[str, Any], Any]:
    """(raw section with [run] defaults, its config object or None): what a stage runs with, also for --dry-run."""
    raw = dict(config[section] or {})
    for key in _SHARED_KEYS:
        if key in config.get("run", {}) and key not in raw:
            raw[key] = config["run"][key]
    if not cfg_cls:
        return raw, None
    mod_name, _, cls_name = cfg_cls.rpartition(".")
    cls = getattr(import_module(mod_name), cls_name)
    raw = {k: v for k, v in raw.items() if k not in _SHARED_KEYS or k in getattr(cls, "__dataclass_fields__", {})}
    return raw, cls.from_dict(raw)


def run_pipeline(
    config: dict[str, Any],
    run_dir: str | Path | None = None,
    force: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    run_dir = run_dir or config.get("run", {}).get("dir") or f"runs/{config.get('run', {}).get('name', 'default')}"
    run = RunDir(run_dir)
    redact(config)  # learn the config's secrets so every log line and error below has them masked
    log = _masked(log)
    with run.lock(f"sf run {run_dir}"):  # one writer per run, for every stage below
        return _run_stages(run.init(config), config, force, only, log)


def _masked(log: Callable[[str], None]) -> Callable[[str], None]:
    return lambda msg: log(redact_text(msg))


def _run_stages(run: RunDir, config, force, only, log) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for stage, section, module, fn, cfg_cls in STAGES:
        if section not in config or (only and stage not in only):
            continue
        raw, cfg = stage_config(config, section, cfg_cls)
        h = config_hash(cfg if cfg is not None else raw)
        entry = run.manifest().get("stages", {}).get(stage, {})
        if entry.get("status") == "done" and entry.get("config_hash") == h and stage not in force:
            log(f"[{stage}] done already (same config), skipping")
            summary[stage] = {"skipped": True}
            continue
        log(f"[{stage}] running")
        run.set_stage(stage, "running", config_hash=h)
        t0 = time.perf_counter()
        func = getattr(import_module(module), fn)
        kwargs = {}
        if "replace" in inspect.signature(func).parameters:
            # a finished stage rerun with a changed config (e.g. build with another N) replaces its output
            kwargs["replace"] = entry.get("status") == "done" and entry.get("config_hash") not in (None, h)
        if "log" in inspect.signature(func).parameters:  # long stages (experiment) report progress
            kwargs["log"] = log
        try:
            info = func(run, cfg, **kwargs) if cfg is not None else func(run, **kwargs)
        except BaseException as e:
            run.set_stage(stage, "failed", error=redact_text(f"{type(e).__name__}: {e}"))
            raise
        info = dict(info or {})
        info["seconds"] = round(time.perf_counter() - t0, 2)
        run.set_stage(stage, "done", config_hash=h, info=info)
        summary[stage] = info
        log(
            f"[{stage}] done in {info['seconds']:.1f}s: "
            + ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, (dict, list)))[:300]
        )
    return {"run": str(run.path), "stages": summary}
