"""Snapshot tests (pytest-textual-snapshot) of every screen at 80x24 and 200x50 on a deterministic run.

Update after an intended UI change with: pytest tests/tui/test_snapshots.py --snapshot-update
(and look at the SVGs in tests/tui/__snapshots__/ before committing them).
"""

from __future__ import annotations

import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from sfdata.synth import make_run
from tui.app import InspectorApp

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 50), id="200x50")]


@pytest.fixture()
def app(tmp_path):
    r = make_run(tmp_path / "run", n_questions=5, n=3, k=2, p_correct=0.5, seed=11)
    build_stage(r, BuildConfig(formats=("*C", "*C*IC", "*CC", "no_reflection"), n=3))
    skills_stage(r)
    return InspectorApp(r.path)


def _backtrack(*keys: str):
    async def run_before(pilot):
        pilot.app.apply(format="*C*IC")
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_table_screen(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_stats_pane(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size, press=["t"])


@pytest.mark.parametrize("size", SIZES)
def test_trace_screen(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size, run_before=_backtrack("enter", "n"))


def test_trace_sources_panel_80x24(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_backtrack("enter", "i"))


@pytest.mark.parametrize("size", SIZES)
def test_rollouts_browser(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size, run_before=_backtrack("enter", "o"))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size, press=["question_mark"])


@pytest.mark.parametrize("size", SIZES)
def test_compare_diff(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size, press=["m", "j", "v"])


@pytest.mark.parametrize("size", SIZES)
def test_sort_choice(app, snap_compare, size):
    assert snap_compare(app, terminal_size=size, press=["s"])
