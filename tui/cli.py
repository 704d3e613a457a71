"""Open the Textual trace inspector on a run directory, a Parquet/JSONL file in the published
SFT or raw schema, or a Hub dataset id (pulled into a cache run first). Keys: ? for help."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="run directory, local Parquet/JSONL file or folder, or Hub dataset id")
    p.add_argument("--config", default=None, help="dataset config when SOURCE is a Hub id or dataset folder")
    p.add_argument("--split", default="train")


def resolve_source(source: str, config: str | None = None, split: str = "train") -> Path:
    """A run directory for SOURCE: itself if it is a run, else a cached run pulled from it."""
    p = Path(source)
    if p.is_dir() and (p / "manifest.json").is_file():
        return p
    from sfdata.hub.pull import pull

    key = hashlib.sha256(f"{p.resolve() if p.exists() else source}|{config}|{split}".encode()).hexdigest()[:12]
    run = Path.home() / ".cache" / "skillfactory" / "inspect" / key
    if not (run / "manifest.json").is_file() or not any((run / "traces").glob("*.parquet")):
        info = pull(source, run, config=config, split=split)
        if info.get("kind") == "raw":
            from sfdata.factory.build import BuildConfig, build_stage
            from sfdata.store import RunDir

            build_stage(RunDir(run), BuildConfig())
    return run


def run(args: argparse.Namespace) -> int:
    from tui.app import InspectorApp

    InspectorApp(resolve_source(args.source, args.config, args.split)).run()
    return 0
