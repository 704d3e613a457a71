"""Build a Hub dataset folder from a run, check it loads, upload it in one commit; pull back.

The folder is built and verified locally first (`datasets.load_dataset(folder, config)`), so a
failed upload (no token, offline) loses nothing: the folder stays for a later `sf push --folder`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

DEFAULT_CONFIGS = ("sft_train", "raw", "verl")
_FOLDER_OF = {"sft_train": "sft", "messages": "messages", "raw": "raw", "verl": "verl"}


class HubError(RuntimeError):
    """A Hub operation failed for a reason the user can fix (token, network, name)."""


def build_folder(
    run_dir: str | Path,
    folder: str | Path,
    repo_id: str,
    configs: tuple[str, ...] = DEFAULT_CONFIGS,
    kept_only: bool = True,
    license: str = "apache-2.0",
) -> dict[str, int]:
    """Write Parquet per config + README card into `folder` (replaced atomically). Returns row counts."""
    from sfdata.hub.card import render_card, write_card
    from sfdata.hub.export import curated_traces, export
    from sfdata.store import RunDir

    folder = Path(folder)
    bad = [c for c in configs if c not in _FOLDER_OF]
    if bad:
        raise ValueError(f"unknown config(s) {bad}; choose from {', '.join(_FOLDER_OF)}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        counts: dict[str, int] = {}
        patterns: dict[str, str] = {}
        for cfg in configs:
            files = export(run_dir, _FOLDER_OF[cfg], staging, kept_only=kept_only)
            counts[cfg] = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)
            patterns[cfg] = f"{files[0].parent.name}/*.parquet"
        traces = (
            curated_traces(run_dir, kept_only)
            if "sft_train" in configs or "messages" in configs
            else RunDir(run_dir).read("traces").head(0)
        )
        write_card(staging, render_card(repo_id, RunDir(run_dir).manifest(), traces, patterns, counts, license))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def check_loads(folder: str | Path, configs: tuple[str, ...] | None = None) -> dict[str, int]:
    """Load every config of the folder with `datasets` (what Hub users will do). Returns rows per config."""
    import datasets

    folder = Path(folder)
    configs = configs or tuple(_configs_in_card(folder))
    out = {}
    for cfg in configs:
        ds = datasets.load_dataset(str(folder), cfg, split="train")
        out[cfg] = ds.num_rows
    return out


def _configs_in_card(folder: Path) -> list[str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("- config_name:")]


def resolve_token(token: str | None = None) -> str:
    if token:
        return token
    env = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if env:
        return env
    try:
        from huggingface_hub import get_token

        found = get_token()
    except Exception:
        found = None
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
    if "/" not in repo_id:
        raise HubError(f"repo id {repo_id!r} must look like 'user-or-org/name'")
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


def pull(
    source: str | Path, run_dir: str | Path, config: str | None = None, split: str = "train", task: str = "countdown"
) -> dict[str, Any]:
    """Load a published SFT or RAW dataset (Hub id or local folder/file) into a run directory."""
    from sfdata.hub.raw import RESP, import_raw, read_source

    df = read_source(source, config, split)
    if RESP in df.columns:
        return {"kind": "raw", **import_raw(source, run_dir, task=task, config=config, split=split).summary()}
    col = next((c for c in ("conversations", "messages") if c in df.columns), None)
    if col is None:
        raise ValueError(
            f"{source}: neither a raw (needs {RESP}) nor an SFT dataset (needs conversations or messages); "
            f"columns: {sorted(df.columns)}"
        )
    return {"kind": "sft", **import_conversations(df, col, run_dir, str(source), task)}


def import_conversations(df: pl.DataFrame, col: str, run_dir: str | Path, source: str, task: str) -> dict[str, Any]:
    """Published SFT rows -> our traces table (format 'imported'), with skill counts and grades."""
    from sfdata.hub.raw import _countdown_question, fill_missing
    from sfdata.skills import detect
    from sfdata.store import RunDir, stable_id
    from sfdata.store.run import now_utc
    from sfdata.store.schemas import schema_of
    from sfdata.tasks import get_task
    from sfdata.tasks.base import Question, extract_answer

    run = RunDir(run_dir)
    run.init(None if run.exists() else {"pull": {"source": source, "column": col}})
    have = run.ids("traces")
    rows, bad = [], []
    now = now_utc()
    the_task = get_task(task)
    for i, r in enumerate(df.iter_rows(named=True)):
        msgs = r.get(col) or []
        user = next((m.get("content") for m in msgs if m and m.get("role") in ("user", "human")), None)
        asst = next((m.get("content") for m in reversed(msgs) if m and m.get("role") in ("assistant", "gpt")), None)
        if not user or not asst:
            bad.append({"row": i, "reason": "no user or no assistant turn"})
            continue
        final = extract_answer(asst)
        ok = None
        if task == "countdown":
            try:
                nums, target = _countdown_question(user, r.get("answer", _target_in(user)), r)
                q = Question("countdown", user, str(target), len(nums), {"numbers": nums, "target": target})
                ok = the_task.grade(q, final).is_correct if final else False
            except (ValueError, TypeError):
                ok = None
        c = detect(asst)
        if c.malformed:
            bad.append({"row": i, "reason": "unbalanced or out-of-order tags (imported; flagged malformed in skills)"})
        tid = stable_id("pull", source, i, user, asst)
        if tid in have:
            continue
        rows.append(
            {
                "trace_id": tid,
                "question_id": stable_id("pull-q", user),
                "task": task,
                "format": str(r.get("format") or "imported"),
                "ablation": None,
                "n_samples": c.n_samples,
                "prompt": user,
                "trace": asst,
                "final_answer": final,
                "is_correct": ok,
                "rollout_ids": [],
                "reflection_ids": [],
                "variants": [],
                "n_correct": None,
                "n_incorrect": None,
                "n_retries": c.n_retries,
                "n_backtracks": c.n_backtracks,
                "n_confirms": c.n_confirms,
                "seed": 0,
                "created_at": now,
            }
        )
    if rows:
        run.append("traces", fill_missing(pl.DataFrame(rows, infer_schema_length=None), schema_of("traces")))
    run.set_stage("build", "done", imported_from=source)
    return {"traces": len(rows), "bad_rows": len(bad), "bad": bad[:20]}


def _target_in(text: str) -> str | None:
    import re

    m = re.search(r"(?:make|equals?|reach|to get|target(?: is)?)\s*:?\s*(-?\d+)", text)
    return m.group(1) if m else None
