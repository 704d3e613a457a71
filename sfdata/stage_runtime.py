"""The one stage runtime: a `Stage` record and `run_stage`, which alone writes stage status in a manifest.

A `Stage` names its entry function and config class (imported only when the stage runs, so `sf --help`
never imports torch), the tables it reads and writes, and the stages whose output it needs.
`run_stage` owns the bookkeeping: the needs check, skip-when-done (same config hash and unchanged
inputs), the run lock, and the manifest's running/done/failed entry with the stage's info.

The data library's own stages are declared here (`DATA_STAGES`); the application layer's registry
(`sfdata.app.stages.STAGES`) adds the training stages. `needs` always name data stages.
A stage may write into a sub-path (`models/sft`), and `run_stage(..., key="arm/rl")` records one entry
per arm of an experiment while reusing the same record.
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
from sfdata.store.identity import content_identity, fingerprint
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
    # "module:function(run) -> bool": True when the output is out of date although config and inputs are not
    # (grades written by an older grader id); such a stage runs again like one with changed inputs
    stale: str | None = None
    creates_run: bool = False  # its command may be given a run directory that does not exist yet

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


# the data library's stages in pipeline order; skills/report last because they also cover eval outputs
DATA_STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            "questions",
            "sfdata.questions:questions_stage",
            "sfdata.questions:QuestionsConfig",
            writes=("questions",),
            creates_run=True,
        ),
        Stage(
            "generate",
            "sfdata.generate:generate_stage",
            "sfdata.generate:GenerateConfig",
            reads=("questions",),
            writes=("rollouts",),
            needs=("questions",),
        ),
        Stage(
            "grade",
            "sfdata.grade:grade_stage",
            None,
            ("questions", "rollouts"),
            ("grades",),
            ("generate",),
            stale="sfdata.grade:graded_by_older_grader",
        ),
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


# stages whose input lies outside the run (a Hub id or a file): `sf import`, `sf pull`. Not pipeline stages
# (`sf run` does not run them); they always run, and skip by id what the run has already.
HUB_STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            "import",
            "sfdata.hub.raw:import_stage",
            "sfdata.hub.raw:ImportConfig",
            writes=("questions", "rollouts", "grades", "reflections"),
            creates_run=True,
        ),
        Stage("pull", "sfdata.hub.pull:pull_stage", "sfdata.hub.pull:PullConfig", writes=("traces",), creates_run=True),
    )
}


def _present(run: RunDir, what: str) -> bool:
    return run.has(what) if what in TABLES else (run.path / what).exists()


def stage_files(run: RunDir, what: tuple[str, ...]) -> list:
    """The files behind tables or run sub-paths (a folder: every file under it)."""
    files = []
    for w in what:
        if w in TABLES:
            files += run.files(w)
        else:
            p = run.path / w
            files += sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p] if p.is_file() else []
    return files


def _fingerprint(run: RunDir, what: tuple[str, ...]) -> str:
    """Content-stable digest of the files (store.identity): a copied or moved run keeps it; a new,
    removed or rewritten file changes it."""
    return fingerprint(stage_files(run, what), run.path)


def output_files(run: RunDir, stage: Stage) -> list[list[Any]]:
    """What a finished stage recorded about its outputs: [relative path, size, digest] per file."""
    return [list(content_identity(p, run.path)) for p in stage_files(run, stage.writes)]


def outputs_changed(run: RunDir, stage: Stage, entry: dict[str, Any]) -> str | None:
    """Why a stage recorded as done is not done any more (None: its outputs are there and as recorded).

    Every file it recorded must still be there with the same content (files that later stages or
    other eval models added do not matter): a deleted part, a removed model folder or a rewritten
    file makes `sf` run the stage again (resumable stages then fill only what is missing) instead
    of saying "done already". Entries written before outputs were recorded only need the outputs present.
    """
    recorded = entry.get("outputs")
    if recorded is None:
        missing = [w for w in stage.writes if not _present(run, w)]
        return f"its output {', '.join(missing)} is missing" if missing else None
    for rel, size, digest in recorded:
        p = run.path / rel
        if not p.is_file():
            return f"{rel} is missing"
        if content_identity(p, run.path) != (rel, size, digest):
            return f"{rel} changed"
    return None


def _legacy_fingerprint(run: RunDir, what: tuple[str, ...]) -> str:
    """The fingerprint entries recorded before store.identity: names, sizes and mtimes."""
    rows = []
    for p in stage_files(run, what):
        st = p.stat()
        rows.append((str(p.relative_to(run.path)), st.st_size, st.st_mtime_ns))
    return config_hash(rows)


def _accept_legacy(run: RunDir, stage: Stage, cfg: Any, entry: dict[str, Any], h: str, inputs: str) -> tuple[str, str]:
    """(config hash, inputs) to compare with an entry written by the older runtime: its own way of hashing,
    so upgrading does not rerun (or retrain) every finished stage; the next `done` records the new ones."""
    old_h = config_hash(cfg if cfg is not None else {})
    old_inputs = _legacy_fingerprint(run, tuple(r for r in stage.reads if r not in stage.writes))
    return (
        old_h if entry.get("config_hash") == old_h else h,
        old_inputs if entry.get("inputs") == old_inputs else inputs,
    )


def check_needs(run: RunDir, stage: Stage) -> None:
    """Fail clearly, before any work, when a needed stage's output is missing."""
    for need in stage.needs:
        missing = [w for w in DATA_STAGES[need].writes if not _present(run, w)]
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
    stage: Stage,
    cfg: Any = None,
    *,
    force: bool = False,
    key: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run one stage with the manifest bookkeeping; returns its info, or `{"skipped": True}`.

    Skipped when the manifest says it is done with the same config hash and unchanged inputs, and every
    output file it recorded is still there unchanged (unless `force`), and the stage's `stale` check (if any)
    finds nothing out of date. An interrupted stage runs again and, being resumable, only fills what is missing.
    A finished stage rerun with a changed config or changed inputs gets `replace=True` when its function takes it
    (a build after a regrade swaps in traces from the new grades instead of adding them beside the stale ones).
    `key` names the manifest entry (default: the stage name), e.g. `"rl_only/rl"` for one arm.
    """
    key = key or stage.name
    h = config_hash(cfg if cfg is not None else {}, root=run.path)
    inputs = _fingerprint(run, tuple(r for r in stage.reads if r not in stage.writes))
    entry = run.manifest().get("stages", {}).get(key, {})
    done = entry.get("status") == "done"
    same_h, same_inputs = h, inputs  # what the entry must hold to count as done
    if done and "outputs" not in entry:  # recorded before content fingerprints: accept its own hashes once
        same_h, same_inputs = _accept_legacy(run, stage, cfg, entry, h, inputs)
    same = done and entry.get("config_hash") == same_h and entry.get("inputs", inputs) == same_inputs
    if same and stage.stale is not None and _resolve(stage.stale)(run):
        log(f"[{key}] output is stale (see {stage.stale}), running again")
        same = False
    if same and not force:
        why = outputs_changed(run, stage, entry)
        if why is None:
            log(f"[{key}] done already (same config, inputs and outputs), skipping")
            if "outputs" not in entry:  # upgrade an older entry: from now on content fingerprints decide
                with run.lock(f"sf {key} {run.path}"):
                    run.set_stage(key, "done", config_hash=h, inputs=inputs, outputs=output_files(run, stage))
            return {"skipped": True}
        log(f"[{key}] recorded as done, but {why}: running again")
    check_needs(run, stage)
    func = stage.function()
    params = inspect.signature(func).parameters
    if "replace" in params:
        # a finished stage whose inputs changed (e.g. a regrade under the build) is replaced, never added to: its
        # old outputs came from other inputs; a changed config replaces too unless the caller says (sf build: add)
        inputs_changed = done and entry.get("inputs", inputs) != same_inputs
        if "replace" not in kwargs:
            kwargs["replace"] = inputs_changed or (done and entry.get("config_hash") not in (None, same_h))
        elif inputs_changed:
            kwargs["replace"] = True
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
        outputs = output_files(run, stage)
        run.set_stage(key, "done", config_hash=h, inputs=inputs, outputs=outputs, info=info, **_threads_record())
    log(
        f"[{key}] done in {info['seconds']:.1f}s: "
        + ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, (dict, list)))[:300]
    )
    return info
