"""The inspector's data layer on odd runs: no skills table, read-only or full disks, SFT files, duplicates,
huge cells, wrong-type parts, failing or slow WHERE filters (issues 22 and 23)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from tests.synth import make_run
from tui.data import Filters, TraceStore


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of a run but its `.index/` (path -> size, mtime): what "untouched" means."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] != ".index":
            st = p.stat()
            out[str(rel)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture()
def built(tmp_path):
    """A run after a bare `sf build`: traces, no skills table."""
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=("0C", "*C", "*C*IC", "*CC"), n=3))
    assert not r.files("skills")
    return r


def test_skill_columns_filled_after_bare_build_and_run_untouched(built, tmp_path):
    before = _listing(built.path)
    twin = tmp_path / "twin"
    shutil.copytree(built.path, twin)
    store = TraceStore(built.path)
    assert _listing(built.path) == before  # the run's own tables: not one byte or mtime changed
    assert list((built.path / ".index").glob("skills-*.arrow"))  # the side table instead
    from sfdata.store import RunDir

    skills_stage(RunDir(twin))  # what `sf skills` would have written
    ref = TraceStore(twin)
    assert store.skills_source == "detected" and ref.skills_source == "run" and store.skills_note == ""
    assert store.stats().skills == ref.stats().skills and store.stats().skills["reflections"][0] > 0
    assert store.stats().verdict_acc == ref.stats().verdict_acc is not None
    for where in ("verdict_acc < 1", "verdict_acc = 1", "cue_check > 0", "n_reflections >= 2"):
        assert store.count(Filters(where=where)) == ref.count(Filters(where=where))
    assert store.count(Filters(where="verdict_acc IS NOT NULL")) == store.count() > 0
    page = store.page(limit=50)
    assert all(r["verdict_acc"] is not None for r in page.rows)
    # a second open reads the side table (no new file, same numbers)
    again = TraceStore(built.path)
    assert again.stats().skills == store.stats().skills and _listing(built.path) == before


@pytest.mark.parametrize(
    "err", [PermissionError(errno.EACCES, "Permission denied"), OSError(errno.ENOSPC, "No space left on device")]
)
def test_skill_columns_in_memory_when_index_cannot_be_written(built, monkeypatch, err):
    def refuse(*a, **k):
        raise err

    monkeypatch.setattr("tui.skills_side.write_side", refuse)
    store = TraceStore(built.path)
    assert store.skills_source == "detected" and "in memory only" in store.skills_note
    assert err.strerror in store.skills_note
    assert not list((built.path / ".index").glob("skills-*.arrow")) if (built.path / ".index").exists() else True
    assert store.count(Filters(where="verdict_acc IS NOT NULL")) == store.count() > 0
    assert store.stats().skills_note == store.skills_note  # the pane shows the reason


def test_skill_columns_na_with_reason_when_not_computed(built, monkeypatch):
    monkeypatch.setattr("tui.skills_side.MAX_DETECT", 1)
    store = TraceStore(built.path)
    st = store.stats()
    assert store.skills_missing and "n/a" in store.skills_note and "sf skills" in st.skills_note
    assert st.skills["reflections"] is None and st.skills["cue wait"] is None  # n/a, not 0
    assert not st.has_skills_table
    from rich.console import Console

    from tui.components.stats_pane import stats_renderable

    con = Console(width=60, record=True)
    con.print(stats_renderable(st))
    text = con.export_text()
    assert "n/a" in text and "sf skills" in " ".join(text.split())
    assert os.path.isdir(built.path)


def test_sft_file_keeps_its_own_trace_ids(tmp_path, monkeypatch):
    import polars as pl

    from tui.source import resolve_source

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    convs = [
        [
            {"role": "user", "content": f"Using the numbers [3, {i}], make {3 + i}."},
            {"role": "assistant", "content": f"<think>3 + {i}</think>\n<answer>3 + {i}</answer>"},
        ]
        for i in range(4)
    ]
    ids = ["mine-a", "mine-b", "mine-c", "mine-a"]  # the last repeats an id: kept once, never renamed
    f = tmp_path / "sft.parquet"
    pl.DataFrame({"trace_id": ids, "conversations": convs}).write_parquet(f)
    src = resolve_source(str(f))
    store = TraceStore(src.run, src.traces_files, src.labels_path)
    got = [r["trace_id"] for r in store.page(limit=10).rows]
    assert sorted(got) == ["mine-a", "mine-b", "mine-c"]
    store.set_label("mine-b", "keep")
    saved = pl.read_parquet(src.labels_path)
    assert saved["trace_id"].to_list() == ["mine-b"] and set(saved["trace_id"]) <= set(ids)
