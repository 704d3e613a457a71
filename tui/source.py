"""What `sf inspect SOURCE` opens: a run, one of a run's trace files, or a published file.

A run's own files (`RUN/exports/kept.parquet`, `RUN/traces/part-*.parquet`) open over their run,
so grades, reflections and skill numbers are the run's and labels are the run's labels. A file
outside a run is converted once into a cache run, but its labels sit next to it
(`NAME.labels.parquet`), and the app shows that path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    run: Path  # the run whose views are opened
    traces_files: list[Path] | None = None  # narrow the traces to these files (None: all of the run's)
    labels_path: Path | None = None  # None: RUN/labels.parquet
    name: str = ""  # what the title shows

    @property
    def title(self) -> str:
        return self.name or self.run.name


def labels_path_for(file: Path) -> Path:
    """Where the labels of a single file live: next to it, `data.parquet` -> `data.labels.parquet`."""
    name = file.name
    for ext in (".parquet", ".jsonl", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return file.with_name(name + ".labels.parquet")


def _is_run(p: Path) -> bool:
    return p.is_dir() and (p / "manifest.json").is_file()


def run_of(file: Path) -> Path | None:
    """The run a trace file belongs to (RUN/traces/part-*.parquet, RUN/exports/*.parquet), if any."""
    parent = file.resolve().parent
    if parent.name in ("traces", "exports") and _is_run(parent.parent):
        return parent.parent
    return None


def _is_traces_file(file: Path) -> bool:
    if file.suffix != ".parquet":
        return False
    import pyarrow.parquet as pq

    names = set(pq.read_schema(file).names)
    return {"trace_id", "trace", "format", "rollout_ids"} <= names


def resolve_source(source: str, config: str | None = None, split: str = "train") -> Source:
    """A run directory, one of a run's trace files, or a published dataset (pulled into a cache run)."""
    p = Path(source)
    if _is_run(p):
        return Source(p)
    if p.is_file() and _is_traces_file(p):
        run = run_of(p)
        if run is not None:
            return Source(run, [p.resolve()], None, f"{run.name}/{p.resolve().relative_to(run)}")
        from sfdata.store import RunDir

        cache = _cache_dir(p, config, split)
        RunDir(cache).init(None if (cache / "manifest.json").is_file() else {"inspect": {"file": str(p.resolve())}})
        return Source(cache, [p.resolve()], labels_path_for(p), p.name)
    cache = _cache_dir(p, config, split)
    if not _is_run(cache) or not any((cache / "traces").glob("*.parquet")):
        from sfdata.hub.pull import pull

        info = pull(source, cache, config=config, split=split)
        if info.get("kind") == "raw":
            from sfdata.factory.build import BuildConfig
            from sfdata.stage_runtime import DATA_STAGES, run_stage
            from sfdata.store import RunDir

            run_stage(RunDir(cache), DATA_STAGES["build"], BuildConfig())
    labels = labels_path_for(p) if p.is_file() else None
    return Source(cache, None, labels, p.name if p.exists() else source)


def _cache_dir(p: Path, config: str | None, split: str) -> Path:
    """The conversion cache (not the labels): keyed by the file's path, size and mtime, config and split."""
    from sfdata.store.identity import files_signature

    stamp = str(files_signature([p])) if p.exists() else str(p)
    key = hashlib.sha256(f"{stamp}|{config}|{split}".encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "skillfactory" / "inspect" / key
