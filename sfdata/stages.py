"""Every pipeline stage as one record, and the one runner that `sf run` and the single-stage commands share.

A `Stage` names its entry function and config class (imported only when the stage runs, so `sf --help`
never imports torch), the tables it reads and writes, and the stages whose output it needs.
`run_stage` owns the bookkeeping: the needs check, skip-when-done (same config hash and unchanged
inputs), the run lock, and the manifest's running/done/failed entry with the stage's info.

Room to grow: a stage may write into a sub-path (`models/sft`), and `run_stage(..., key="arm/rl")`
records one entry per arm of an experiment while reusing the same record.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from sfdata.stagecfg import config_hash, from_dict
from sfdata.store import RunDir
from sfdata.store.schemas import TABLES


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(import_module(module), attr)


@dataclass(frozen=True)
class Stage:
    name: str
    entry: str  # "module:function"; called as function(run, cfg) (or function(run) without a config)
    config: str | None = None  # "module:Class", a dataclass whose fields are the section's keys and the CLI flags
    reads: tuple[str, ...] = ()  # tables (or run sub-paths) whose change makes a finished stage run again
    writes: tuple[str, ...] = ()  # tables (or run sub-paths) it fills
    needs: tuple[str, ...] = ()  # stages whose output must be in the run first

    def function(self) -> Callable[..., dict[str, Any]]:
        return _resolve(self.entry)

    def config_class(self) -> type | None:
        return _resolve(self.config) if self.config else None

    def make_config(self, section: dict[str, Any] | None) -> Any:
        """The stage's config from its section (None for stages without options)."""
        cls = self.config_class()
        if cls is None:
            if section:
                raise ValueError(f"stage {self.name} takes no options; got {', '.join(sorted(section))}")
            return None
        own = cls.__dict__.get("from_dict")  # a config with nested parts (experiment arms) builds itself
        return own.__get__(None, cls)(section) if own is not None else from_dict(cls, section)


# pipeline order: skills/report come last because they also cover eval outputs
STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("questions", "sfdata.questions:questions_stage", "sfdata.questions:QuestionsConfig", (), ("questions",)),
        Stage(
            "generate",
            "sfdata.rollouts:generate_stage",
            "sfdata.rollouts:GenerateConfig",
            reads=("questions",),
            writes=("rollouts",),
            needs=("questions",),
        ),
        Stage("grade", "sfdata.grading:grade_stage", None, ("questions", "rollouts"), ("grades",), ("generate",)),
        Stage(
            "reflect",
            "sfdata.reflect:reflect_stage",
            "sfdata.reflect:ReflectConfig",
            reads=("questions", "rollouts", "grades"),
            writes=("reflections",),
            needs=("grade",),
        ),
        Stage(
            "build",
            "sfdata.factory.build:build_stage",
            "sfdata.factory.build:BuildConfig",
            reads=("questions", "rollouts", "grades", "reflections"),
            writes=("traces",),
            needs=("grade",),
        ),
        Stage(
            "sft",
            "sftrain.sft:sft_stage",
            "sftrain.sft:SFTStageConfig",
            reads=("traces", "labels"),
            writes=("models/sft",),
            needs=("build",),
        ),
        Stage("eval", "sftrain.eval:eval_stage", "sftrain.eval:EvalConfig", ("questions", "models/sft"), ("eval",)),
        # arms (base / RL only / SFT -> RL ...), each trained and evaluated; resumable arm step by arm step
        Stage(
            "experiment",
            "sftrain.experiment:experiment_stage",
            "sftrain.experiment:ExperimentConfig",
            reads=("questions", "traces", "labels"),
            writes=("models", "eval"),
        ),
        Stage("skills", "sfdata.skills:skills_stage", None, ("questions", "traces", "rollouts", "eval"), ("skills",)),
        Stage(
            "report",
            "sfdata.report:report_stage",
            None,
            reads=("questions", "rollouts", "grades", "reflections", "traces", "labels", "skills", "eval"),
            writes=("plots",),
        ),
    )
}


def get_stage(name: str) -> Stage:
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; known: {', '.join(STAGES)}")
    return STAGES[name]


def _present(run: RunDir, what: str) -> bool:
    return run.has(what) if what in TABLES else (run.path / what).exists()


def _fingerprint(run: RunDir, reads: tuple[str, ...]) -> str:
    """Names, sizes and times of the files a stage reads: a new part file or a rewrite changes it."""
    files = []
    for what in reads:
        if what in TABLES:
            paths = run.files(what)
        else:
            p = run.path / what
            paths = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p] if p.is_file() else []
        for p in paths:
            st = p.stat()
            files.append((str(p.relative_to(run.path)), st.st_size, st.st_mtime_ns))
    return config_hash(files)


def check_needs(run: RunDir, stage: Stage) -> None:
    """Fail clearly, before any work, when a needed stage's output is missing."""
    for need in stage.needs:
        missing = [w for w in STAGES[need].writes if not _present(run, w)]
        if missing:
            raise FileNotFoundError(
                f"{stage.name} needs {need} first: {run.path} has no {', '.join(missing)}; run `sf {need} {run.path}`"
            )


def _threads_record() -> dict[str, Any]:
    """The process's CPU thread setup (sfdata.cpu_threads), recorded with the stage that ran under it
    (None when the process made none, so an older run's record is not left standing)."""
    from sfdata.cpu_threads import current

    setup = current()
    return {"threads": setup.record() if setup is not None else None}


def run_stage(
    run: RunDir,
    stage: Stage | str,
    cfg: Any = None,
    *,
    force: bool = False,
    key: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run one stage with the manifest bookkeeping; returns its info, or `{"skipped": True}`.

    Skipped when the manifest says it is done with the same config hash and unchanged inputs (unless
    `force`). An interrupted stage runs again and, being resumable, only fills what is missing. A
    finished stage rerun with a changed config gets `replace=True` when its function takes it.
    `key` names the manifest entry (default: the stage name), e.g. `"rl_only/rl"` for one arm.
    """
    stage = get_stage(stage) if isinstance(stage, str) else stage
    key = key or stage.name
    h = config_hash(cfg if cfg is not None else {})
    inputs = _fingerprint(run, tuple(r for r in stage.reads if r not in stage.writes))
    entry = run.manifest().get("stages", {}).get(key, {})
    done = entry.get("status") == "done"
    if done and entry.get("config_hash") == h and entry.get("inputs", inputs) == inputs and not force:
        log(f"[{key}] done already (same config and inputs), skipping")
        return {"skipped": True}
    check_needs(run, stage)
    func = stage.function()
    params = inspect.signature(func).parameters
    if "replace" in params and "replace" not in kwargs:
        kwargs["replace"] = done and entry.get("config_hash") not in (None, h)
    if "log" in params and "log" not in kwargs:  # long stages report progress through the caller's log
        kwargs["log"] = log
    log(f"[{key}] running")
    t0 = time.perf_counter()
    from sfdata.redact import redact_text

    with run.lock(f"sf {key} {run.path}"):  # the store's writer lock (re-entrant): one writer per run
        run.set_stage(key, "running", config_hash=h)
        try:
            info = func(run, cfg, **kwargs) if stage.config else func(run, **kwargs)
        except BaseException as e:
            run.set_stage(key, "failed", error=redact_text(f"{type(e).__name__}: {e}"))
            raise
        info = dict(info or {})
        info["seconds"] = round(time.perf_counter() - t0, 2)
        run.set_stage(key, "done", config_hash=h, inputs=inputs, info=info, **_threads_record())
    log(
        f"[{key}] done in {info['seconds']:.1f}s: "
        + ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, (dict, list)))[:300]
    )
    return info
