"""Snapshot tests (pytest-textual-snapshot) of the main screens on a deterministic synthetic run.

Update after an intended UI change with: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from tests.synth import make_run
from tui.app import InspectorApp

SIZE = (140, 40)


@pytest.fixture()
def app(tmp_path):
    r = make_run(tmp_path / "run", n_questions=5, n=3, k=2, p_correct=0.5, seed=11)
    build_stage(r, BuildConfig(formats=("*C", "*C*IC", "*CC"), n=3))
    skills_stage(r)
    return InspectorApp(r.path)


def test_table_screen(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE)


def test_trace_screen(app, snap_compare):
    async def open_backtrack(pilot):
        app.apply(format="*C*IC")
        await pilot.pause()
        await pilot.press("enter", "n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_backtrack)


def test_help_screen(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])
