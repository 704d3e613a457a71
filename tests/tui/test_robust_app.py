"""The inspector app on odd data (issue 22): a WHERE failing at run time, markup-like values, a slow query
cancelled with Esc. Each is one status line and the app keeps running."""

from __future__ import annotations

import polars as pl
import pytest
from textual.widgets import Input

from sfdata.factory.build import BuildConfig, build_stage
from tests.synth import make_run
from tests.tui.test_curation import plain
from tui.app import InspectorApp
from tui.components import RolloutsScreen, TraceScreen


@pytest.fixture()
def odd(tmp_path):
    """A built run whose formats and variants look like Rich markup."""
    r = make_run(tmp_path / "run", n_questions=4, n=2, k=1, p_correct=0.5, seed=3)
    build_stage(r, BuildConfig(formats=("0C", "*C"), n=2))
    for table, col in (("traces", "format"), ("rollouts", "variant")):
        for part in r.files(table):
            df = pl.read_parquet(part)
            df.with_columns(
                pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("[/]")).otherwise(pl.col(col)).alias(col)
            ).write_parquet(part)
    return r


def _status(app) -> str:
    return plain(app.query_one("#status"))


async def _where(app, pilot, text: str) -> None:
    box = app.query_one("#f-where", Input)
    box.value = text
    box.focus()
    await pilot.press("enter")
    await pilot.pause()


async def test_runtime_where_error_and_markup_values_keep_the_app_running(odd):
    app = InspectorApp(odd.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        n = app.total
        assert n > 0 and "[/]" in app.store.formats()
        await _where(app, pilot, "CAST(final_answer AS INTEGER) > 3")
        status = _status(app).strip()
        assert status.startswith("filter error:") and "Conversion Error" in status and "\n" not in status
        assert app.is_running
        app.action_reset()
        await pilot.pause()
        assert app.total == n
        app.query_one("#traces").focus()
        await pilot.press("enter")  # open a trace whose format is "[/]"
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)
        app.pop_screen()
        app.action_rollouts()  # variants "[/]" in the rollouts table
        await pilot.pause()
        assert isinstance(app.screen, RolloutsScreen)
        app.pop_screen()
        app.action_toggle_stats()
        await pilot.pause()
        assert app.is_running


async def test_slow_where_runs_off_the_ui_thread_and_esc_cancels_it(odd):
    app = InspectorApp(odd.path)
    app.QUERY_WAIT_S = 0.2
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        n = app.total
        await _where(app, pilot, "(SELECT sum(hash(range)) FROM range(20000000000)) > 0")
        assert "querying" in _status(app) and app.queries.busy  # the UI answered while the query runs
        app.query_one("#traces").focus()
        await pilot.press("escape")
        for _ in range(200):
            await pilot.pause(0.05)
            if not app.queries.busy and "cancelled" in _status(app):
                break
        assert "query cancelled" in _status(app) and not app.queries.busy
        assert app.total == n  # the last result is still shown
        app.action_reset()
        await pilot.pause()
        assert app.total == n and app.is_running
