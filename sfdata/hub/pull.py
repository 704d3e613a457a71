"""Pull a published SkillFactory dataset (SFT `conversations` or RAW sampling schema) from the Hub
or a local folder/file into a run directory."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl


@dataclass
class PullConfig:
    """What `sf pull` reads: a published set and how to read it."""

    source: str
    config: str | None = None
    split: str = "train"
    task: str = "countdown"


def pull(
    source: str | Path, run_dir: str | Path, config: str | None = None, split: str = "train", task: str = "countdown"
) -> dict[str, Any]:
    """Load a published SFT or RAW dataset (Hub id or local folder/file) into a run directory.

    A raw set is imported (the `import` stage run); an SFT set becomes the `pull` stage run, which
    writes `traces`. The source lies outside the run, so both always run; rows the run has are skipped by id.
    """
    from sfdata.hub.raw import RESP, import_raw, is_raw, read_source, source_label
    from sfdata.stage_runtime import HUB_STAGES, run_stage
    from sfdata.store import RunDir

    df = read_source(source, config, split)
    if is_raw(df):
        return {"kind": "raw", **import_raw(source, run_dir, task=task, config=config, split=split).summary()}
    col = next((c for c in ("conversations", "messages") if c in df.columns), None)
    if col is None:
        raise ValueError(
            f"{source}: neither a raw (needs {RESP}) nor an SFT dataset (needs conversations or messages); "
            f"columns: {sorted(df.columns)}"
        )
    label = source_label(source)
    run = RunDir(run_dir)
    run.init(None if run.exists() else {"pull": {"source": label, "column": col}})
    info = run_stage(run, HUB_STAGES["pull"], PullConfig(label, config, split, task), force=True, frame=(df, col))
    return {"kind": "sft", **{k: info[k] for k in ("traces", "bad_rows", "bad")}}


def pull_stage(run, cfg: PullConfig, frame: tuple[pl.DataFrame, str] | None = None) -> dict[str, Any]:
    """Writes `traces`: a published SFT set's conversations (read again from `cfg.source` unless given)."""
    from sfdata.hub.raw import read_source

    df, col = frame if frame is not None else (read_source(cfg.source, cfg.config, cfg.split), None)
    col = col or next((c for c in ("conversations", "messages") if c in df.columns), "conversations")
    return {"imported_from": cfg.source, **import_conversations(df, col, run, cfg.source, cfg.task)}


def import_conversations(df: pl.DataFrame, col: str, run_dir: str | Path, source: str, task: str) -> dict[str, Any]:
    """Published SFT rows -> our traces table (format 'imported'), with skill counts and grades."""
    from sfdata.hub.raw import fill_missing
    from sfdata.skills import detect
    from sfdata.store import RunDir, stable_id
    from sfdata.store.run import now_utc
    from sfdata.store.schemas import schema_of
    from sfdata.tasks import get_task
    from sfdata.tasks.base import extract_answer

    run = RunDir(run_dir)
    have = run.ids("traces")
    rows, bad = [], []
    now = now_utc()
    the_task = get_task(task)
    seen: Counter = Counter()
    taken: set[str] = set()
    for i, r in enumerate(df.iter_rows(named=True)):
        user, asst = chat_turns(r.get(col))
        if not user or not asst:
            bad.append({"row": i, "reason": "no user or no assistant turn (text)"})
            continue
        final = extract_answer(asst)
        ok = _grade_countdown(the_task, user, final, r) if task == "countdown" else None
        c = detect(asst)
        if c.malformed:
            bad.append({"row": i, "reason": "unbalanced or out-of-order tags (imported; flagged malformed in skills)"})
        seen[(user, asst)] += 1  # keyed by content (and repeat count), not by the path spelling
        tid = stable_id("pull", user, asst, seen[(user, asst)] - 1)
        own = r.get("trace_id")
        if isinstance(own, str) and own.strip():  # an id the file carries is kept: labels next to it join back
            tid = own.strip()
            if tid in taken:
                bad.append({"row": i, "reason": f"trace_id {tid} repeats an earlier row (first kept)"})
                continue
        taken.add(tid)
        if tid in have:
            continue
        rows.append(_trace_row(tid, task, user, asst, final, ok, c, str(r.get("format") or "imported"), now))
    if rows:
        run.append("traces", fill_missing(pl.DataFrame(rows, infer_schema_length=None), schema_of("traces")))
    return {"traces": len(rows), "bad_rows": len(bad), "bad": bad[:20]}


def chat_turns(msgs: Any) -> tuple[str | None, str | None]:
    """(first user text, last assistant text) of one conversation; None for a turn that is missing or
    not text. Rows of an untrusted file may hold a string, null or odd messages instead of a chat, and
    either spelling is read: {role, content} (OpenAI/TRL) or {from, value} (ShareGPT)."""
    if not isinstance(msgs, (list, tuple)):
        return None, None
    turns = []
    for m in msgs:
        if isinstance(m, dict):
            role, text = m.get("role", m.get("from")), m.get("content", m.get("value"))
            if isinstance(role, str) and isinstance(text, str):
                turns.append((role, text))
    user = next((t for role, t in turns if role in ("user", "human")), None)
    asst = next((t for role, t in reversed(turns) if role in ("assistant", "gpt")), None)
    return user, asst


def _grade_countdown(the_task, user: str, final: str | None, r: dict) -> bool | None:
    """Grade an imported Countdown answer; None when the question's numbers cannot be recovered."""
    from sfdata.hub.raw import _countdown_question
    from sfdata.tasks.base import Question

    try:
        nums, target = _countdown_question(user, r.get("answer", _target_in(user)), r)
        q = Question("countdown", user, str(target), len(nums), {"numbers": nums, "target": target})
        return the_task.grade(q, final).is_correct if final else False
    except (ValueError, TypeError):
        return None


def _trace_row(tid: str, task: str, user: str, asst: str, final, ok, counts, fmt: str, now) -> dict[str, Any]:
    """One imported conversation as a traces-table row (no rollouts or reflections behind it)."""
    from sfdata.store import stable_id

    return {
        "trace_id": tid,
        "question_id": stable_id("pull-q", user),
        "task": task,
        "format": fmt,
        "ablation": None,
        "n_samples": counts.n_samples,
        "prompt": user,
        "trace": asst,
        "final_answer": final,
        "is_correct": ok,
        "rollout_ids": [],
        "reflection_ids": [],
        "variants": [],
        "n_correct": None,
        "n_incorrect": None,
        "n_retries": counts.n_retries,
        "n_backtracks": counts.n_backtracks,
        "n_confirms": counts.n_confirms,
        "seed": 0,
        "created_at": now,
    }


def _target_in(text: str) -> str | None:
    import re

    m = re.search(r"(?:make|equals?|reach|to get|target(?: is)?)\s*:?\s*(-?\d+)", text)
    return m.group(1) if m else None
