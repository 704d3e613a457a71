"""Keys typed while the inspector is busy (issue 23, items 1 and 2), against a deliberately slowed store.

A real terminal delivers keys while the app is still reloading a page or painting a trace; here the keys
are posted to the app all at once while every page and trace read sleeps, so the race shows on any machine.
"""

from __future__ import annotations

import time

import pytest
from textual import events

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.store import RunDir
from tests.synth import make_run
from tui.app import InspectorApp
from tui.components import TraceScreen
from tui.data import TraceStore
from tui.messages import RolloutsRequested

KEEP, DROP = "y", "x"  # the trace view's keep+next / drop+next keys (j/k move, as in vim)
SLOW_S = 0.3


class SlowStore(TraceStore):
    """A TraceStore whose page and trace reads sleep: a big run on a loaded machine, made reproducible."""

    pages = 0

    def page(self, *a, **kw):
        SlowStore.pages += 1
        time.sleep(SLOW_S)
        return super().page(*a, **kw)

    def trace(self, trace_id):
        time.sleep(SLOW_S)
        return super().trace(trace_id)


@pytest.fixture()
def run(tmp_path):
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=("*C", "*C*IC", "random"), n=3))
    return r


def slow_app(run) -> InspectorApp:
    app = InspectorApp(run.path, use_index=False)
    app.store.close()
    app.store = SlowStore(run.path, use_index=False)
    return app


def type_now(app, keys: str | list[str]) -> None:
    """Queue key presses at once, as a terminal does while the app is busy (Pilot.press waits for each)."""
    for k in keys:
        app.post_message(events.Key(k, k if len(k) == 1 else None))


async def settle(pilot, seconds: float = 6 * SLOW_S) -> None:
    for _ in range(int(seconds / 0.1)):
        await pilot.pause(0.1)


def row_ids(app, n: int) -> list[str]:
    table = app.query_one("#traces")
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(n)]


async def test_keys_after_w_reach_the_where_box_while_a_reset_reloads(run):
    app = slow_app(run)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        type_now(app, ["r", "w", *"cso"])  # c, s and o are table commands (correct filter, sort, rollouts)
        await settle(pilot, 12 * SLOW_S)
        assert app.query_one("#f-where").value == "cso"
        assert app.filters.correct is None and app.screen is app.screen_stack[0]
        assert app.focused is app.query_one("#f-where")
        type_now(app, ["escape", "slash", *"lyt"])  # l would cycle the label filter, y keep, t the stats
        await settle(pilot, 12 * SLOW_S)
        assert app.query_one("#f-search").value == "lyt" and app.filters.label is None and not app.store.labels


async def test_a_burst_of_labels_in_the_trace_view_labels_successive_traces(run):
    app = slow_app(run)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        ids = row_ids(app, 7)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen) and app.screen.trace_id == ids[0]
        SlowStore.pages = 0
        type_now(app, [KEEP, DROP] * 3)
        await settle(pilot, 20 * SLOW_S)
        assert isinstance(app.screen, TraceScreen) and app.screen.trace_id == ids[6]
        assert SlowStore.pages == 0  # labelling reloads no page
        on_screen = {i: str(app.query_one("#traces").get_cell(i, "label")) for i in ids[:6]}
    labels = {r["trace_id"]: r["label"] for r in RunDir(run.path).read("labels").iter_rows(named=True)}
    assert labels == {i: "keep" if n % 2 == 0 else "drop" for n, i in enumerate(ids[:6])}
    assert on_screen == labels  # a label shown on screen is on disk


async def test_a_burst_under_a_label_filter_walks_the_frozen_listing(run):
    app = slow_app(run)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        app.apply(label="none")
        await settle(pilot)
        total = app.total
        ids = row_ids(app, 5)
        await pilot.press("enter")
        await settle(pilot)
        type_now(app, [KEEP] * 4)
        await settle(pilot, 16 * SLOW_S)
        assert app.screen.trace_id == ids[4]
        await pilot.press("escape")  # back in the table the listing is filtered again
        await settle(pilot)
        assert app.total == total - 4 and app.current_id() == ids[4]
    labels = {r["trace_id"]: r["label"] for r in RunDir(run.path).read("labels").iter_rows(named=True)}
    assert labels == dict.fromkeys(ids[:4], "keep")


async def test_opening_a_trace_on_a_slow_store_leaves_the_keys_to_the_table(run):
    """The trace is read on the query worker: a key typed while it loads runs in the table at once."""
    app = slow_app(run)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        app.QUERY_WAIT_S = 0.0  # every read answers later, as on a big run on a loaded machine
        ids = row_ids(app, 2)
        type_now(app, ["enter", "j"])  # j: the table's cursor down (it would scroll a trace view)
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen) and app.screen.trace_id == ids[0]
        assert app.query_one("#traces").cursor_row == 1
        assert "querying" not in str(app.query_one("#status").render())
        await pilot.press(KEEP)
        await settle(pilot)
        assert app.screen.trace_id == ids[1]  # the view walks on from the trace it shows


class FailingStore(TraceStore):
    """A store whose trace, compare and rollouts reads fail (parts replaced under it)."""

    def trace(self, trace_id):
        raise OSError(f"traces part replaced\nwhile reading {trace_id}")

    def rollouts_page(self, *a, **kw):
        raise OSError("rollouts part replaced\nsecond line")


async def test_trace_compare_and_rollouts_errors_are_one_line_and_the_app_runs_on(run):
    app = InspectorApp(run.path, use_index=False)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        app.store.close()
        app.store = FailingStore(run.path, use_index=False)
        shown: list[str] = []
        app.notify = lambda text, **kw: shown.append(str(text))  # type: ignore[method-assign]
        for key in ("enter", "v"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is app.screen_stack[0]
        assert len(shown) == 2 and all("\n" not in s and "replaced" in s for s in shown)
        app.post_message(RolloutsRequested(None, None, "all rollouts"))
        await settle(pilot)
        body = str(app.screen.query_one("#rollout-body").render())
        assert body.startswith("rollouts: OSError: rollouts part replaced") and "\n" not in body


async def test_a_slow_first_page_is_not_an_empty_run(run):
    """The first page answering after the wait must not read as a run without traces (which would open the
    rollouts browser and say the run is empty)."""
    app = slow_app(run)
    app.QUERY_WAIT_S = 0.05  # the first page (SLOW_S) answers later
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        assert app.screen is app.screen_stack[0]  # still the table, not the rollouts browser
        assert app.total > 0 and app.query_one("#traces").row_count > 0
        notes = [n.message for n in app._notifications]
        assert not any("no traces" in m or "nothing in this run" in m for m in notes), notes
        assert "nothing in this run" not in str(app.query_one("#status").render())
