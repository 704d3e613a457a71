"""Build a Hub dataset folder from a run, check it loads, upload it in one commit.

The folder is built and verified locally first (`datasets.load_dataset(folder, config)`), so a
failed upload (no token, offline) loses nothing: the folder stays for a later `sf push --folder`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import polars as pl

DEFAULT_CONFIGS = ("sft_train", "raw", "verl")
CONFIG_FORMATS = {
    "sft_train": "sft",
    "messages": "messages",
    "prompt_completion": "prompt_completion",
    "sharegpt": "sharegpt",
    "raw": "raw",
    "verl": "verl",
}
MARKER = ".sf-dataset-folder"  # written into every folder build_folder makes; only such folders are replaced
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class HubError(RuntimeError):
    """A Hub operation failed for a reason the user can fix (token, network, name)."""


def check_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id or "") or ".." in repo_id or repo_id.endswith((".", "-")):
        raise ValueError(f"repo id {repo_id!r} must look like 'user-or-org/name' (letters, digits, . _ -)")
    return repo_id


def check_target_folder(folder: Path, run_dir: Path) -> None:
    """Refuse to replace anything but a dataset folder this command made (or an empty/absent one)."""
    f, run = folder.resolve(), run_dir.resolve()
    if f == run or f in run.parents:
        raise ValueError(f"--folder {folder} is (or holds) the run directory {run_dir}; pick a new folder")
    if f.is_file():
        raise ValueError(f"--folder {folder} is a file, not a dataset folder")
    if f.is_dir() and any(f.iterdir()) and not (f / MARKER).is_file():
        raise ValueError(
            f"--folder {folder} exists and was not made by `sf push` (no {MARKER}); "
            "refusing to replace it: pick a new or empty folder"
        )


def build_folder(
    run_dir: str | Path,
    folder: str | Path,
    repo_id: str,
    configs: tuple[str, ...] = DEFAULT_CONFIGS,
    kept_only: bool = True,
    license: str = "apache-2.0",
) -> dict[str, int]:
    """Write data per config + README card into `folder` (replaced atomically). Returns row counts."""
    from sfdata.hub.card import check_license, render_card, write_card
    from sfdata.hub.export import curated_traces
    from sfdata.store import RunDir
    from sfdata.store.dirswap import staged_dir

    folder, run = Path(folder), RunDir(run_dir)
    check_repo_id(repo_id)
    check_license(license)
    bad = [c for c in configs if c not in CONFIG_FORMATS]
    if bad:
        raise ValueError(f"unknown config(s) {bad}; choose from {', '.join(CONFIG_FORMATS)}")
    check_target_folder(folder, run.path)
    with staged_dir(folder) as staging:
        (staging / MARKER).write_text(f"built by sf push from {run.path.resolve()}\n", encoding="utf-8")
        counts, patterns = _write_configs(run.path, staging, configs, kept_only)
        traces = curated_traces(run.path, kept_only) if set(configs) - {"raw", "verl"} else run.read("traces").head(0)
        card = render_card(repo_id, run.manifest(), traces, patterns, counts, license, rollouts=run.read("rollouts"))
        write_card(staging, card)
    return counts


def _write_configs(run_dir: Path, staging: Path, configs, kept_only: bool):
    from sfdata.hub.export import export

    counts: dict[str, int] = {}
    patterns: dict[str, str | dict[str, str]] = {}
    for cfg in configs:
        fmt = CONFIG_FORMATS[cfg]
        if fmt == "sharegpt":  # Parquet in a Hub folder: one builder for every config
            from sfdata.hub.export import curated_traces, sharegpt_frame, write_published_parquet

            df = sharegpt_frame(curated_traces(run_dir, kept_only))
            write_published_parquet(df, staging / "sharegpt" / "train-00000.parquet")
            counts[cfg], patterns[cfg] = df.height, "sharegpt/*.parquet"
            continue
        files = [f for f in export(run_dir, fmt, staging, kept_only=kept_only) if f.suffix == ".parquet"]
        if fmt == "verl":  # two splits: train.parquet (counted) and val.parquet, declared when it has rows
            val = [f for f in files if f.name == "val.parquet" and _rows(f)]
            files = [f for f in files if f.name == "train.parquet"]
            counts[cfg] = _rows(files[0])
            patterns[cfg] = {"train": "verl/train.parquet", **({"validation": "verl/val.parquet"} if val else {})}
            continue
        counts[cfg] = sum(_rows(f) for f in files)
        patterns[cfg] = f"{files[0].parent.name}/*.parquet"
    return counts, patterns


def _rows(f: Path) -> int:
    return pl.scan_parquet(f, glob=False).select(pl.len()).collect().item()


def check_loads(folder: str | Path, configs: tuple[str, ...] | None = None) -> dict[str, int]:
    """Load every config of the folder with `datasets` (what Hub users will do). Returns rows per config."""
    import datasets

    from sfdata.hub.card import card_configs

    folder = Path(folder)
    configs = configs or tuple(card_configs(folder))
    out = {}
    for cfg in configs:
        ds = datasets.load_dataset(str(folder), cfg, split="train")
        out[cfg] = ds.num_rows
    return out


def resolve_token(token: str | None = None) -> str:
    """--token, else what huggingface_hub finds (HF_TOKEN, a stored `hf auth login`)."""
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    return found


def push_folder(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    api: Any = None,
    commit_message: str | None = None,
) -> str:
    """Create the dataset repo if needed and upload the folder in one commit. Returns the repo URL."""
    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise HubError(f"{folder} is not a built dataset folder (no README.md); run `sf push RUN REPO_ID` to build it")
    try:
        check_repo_id(repo_id)
    except ValueError as e:
        raise HubError(str(e)) from None
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise HubError(
            f"offline (HF_HUB_OFFLINE is set): cannot push to {repo_id}; the dataset folder is kept at {folder}"
        )
    tok = resolve_token(token)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=tok)
    try:
        api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True, token=tok)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            token=tok,
            commit_message=commit_message or f"SkillFactory dataset from {folder.name}",
        )
    except Exception as e:  # network errors, 401/403, bad names: one clear line, folder kept
        raise HubError(
            f"push to {repo_id} failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            f"the dataset folder is kept at {folder}"
        ) from e
    return str(getattr(info, "commit_url", None) or f"https://huggingface.co/datasets/{repo_id}")
