"""Inspector layout, status and conventions (issue 23, items 4, 6, 7, 8 and 9), driven with Textual's Pilot."""

from __future__ import annotations

import polars as pl
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from tests.synth import make_run
from tests.tui.test_curation import plain
from tui import app as app_mod
from tui.app import InspectorApp, filter_error_text
from tui.components import CompareScreen, HelpScreen, RolloutsScreen, StatsPane, TraceScreen
from tui.data import COLUMNS, TraceStore


@pytest.fixture()
def run(tmp_path):
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=("0C", "*C", "*C*IC", "*CC", "random", "no_reflection"), n=3))
    skills_stage(r)
    return r


def status(app) -> str:
    return plain(app.query_one("#status"))


def widths(table) -> list[int]:
    return [c.get_render_width(table) for c in table.ordered_columns]


def header_x(table, key: str) -> int:
    x = 0
    for c in table.ordered_columns:
        if c.key.value == key:
            return x + 2
        x += c.get_render_width(table)
    raise KeyError(key)


# ---- 4. header clicks ---------------------------------------------------------------------------------
async def test_header_clicks_keep_widths_and_a_second_click_flips(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        table = app.query_one("#traces")
        before = widths(table)
        x = header_x(table, "length")
        await pilot.click("#traces", offset=(x, 0))
        await pilot.pause()
        assert app.sort == "length" and not app.descending
        assert widths(table) == before  # no column shrank to its header
        await pilot.click("#traces", offset=(x, 0))  # the same place: the same column, the order flips
        await pilot.pause()
        assert app.sort == "length" and app.descending
        lengths = [int(str(table.get_cell_at((i, COLUMNS.index("length"))))) for i in range(table.row_count)]
        assert lengths == sorted(lengths, reverse=True)


# ---- 6. the status line says what is applied ----------------------------------------------------------
async def test_status_says_what_is_applied_and_boxes_flag_unapplied_text(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        assert "applied: no filter" in status(app)
        await pilot.press("slash", *"let me")  # typed, not applied (no enter)
        await pilot.pause()
        box = app.query_one("#f-search")
        assert box.has_class("-unapplied") and "search" not in status(app).split("applied:")[1]
        await pilot.press("enter")
        await pilot.pause()
        assert not box.has_class("-unapplied") and "search 'let me'" in status(app)
        app.apply(correct=True, label="none")  # as the palette does: the drop-downs follow
        app.sort_by("length")
        await pilot.pause()
        assert app.query_one("#f-correct").value is True and app.query_one("#f-label").value == "none"
        line = status(app).split("applied:")[1]
        assert all(w in line for w in ("correct yes", "label unlabeled", "search 'let me'", "sort length ▲"))
        await pilot.press("w", *"n_samples > 9")
        await pilot.pause()
        assert app.query_one("#f-where").has_class("-unapplied") and "where" not in status(app).split("applied:")[1]
        await pilot.press("escape", "r")
        await pilot.pause()
        assert app.query_one("#f-search").value == "" and "applied: no filter" in status(app)
        assert not app.query_one("#f-where").has_class("-unapplied")


# ---- 7. layout ------------------------------------------------------------------------------------------
async def test_layout_follows_each_resize_and_small_terminals_scroll(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        assert not app.has_class("-narrow")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.has_class("-narrow")  # this resize, not the one before
        await pilot.resize_terminal(150, 45)
        await pilot.pause()
        assert not app.has_class("-narrow")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        pane = app.query_one(StatsPane)
        assert pane.max_scroll_y > 0  # taller than the terminal: it scrolls
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert pane.scroll_y > 0
        await pilot.press("t")
        await pilot.pause()
        table = app.query_one("#traces")
        app.sort_by("question")  # the sorted column is scrolled into view
        await pilot.pause()
        x = header_x(table, "question") - 2
        assert table.scroll_x <= x < table.scroll_x + table.scrollable_content_region.width
        app.sort_by("label")
        await pilot.pause()
        assert table.scroll_x == 0
        await pilot.press("right")  # a whole column per key
        await pilot.pause()
        assert table.scroll_x == widths(table)[0]


async def test_question_column_takes_the_width_left(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        table = app.query_one("#traces")
        q = table.columns["question"]
        assert q.width > 60 and sum(widths(table)) <= table.size.width
        longest = max(len(str(table.get_cell_at((i, COLUMNS.index("question"))))) for i in range(table.row_count))
        assert longest > 60  # the text is not cut at 60 characters


async def test_stats_histogram_whole_at_200x50(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        pane = app.query_one(StatsPane)
        body = pane.query_one("#stats-body")
        assert body.size.width <= pane.scrollable_content_region.width  # nothing cut on the right
        s = app.store.stats(app.filters)
        lo, hi, _ = s.length_hist[-1]
        assert f"{lo}-{hi}" in plain(body)


# ---- 8. conventions, help, palette, rollouts browser, find, paste -------------------------------------------
async def test_j_k_move_and_labels_use_y_x(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        table = app.query_one("#traces")
        await pilot.press("j", "j", "k")
        assert table.cursor_row == 1 and not app.store.labels
        first = app.current_id()
        await pilot.press("y", "x")
        await pilot.pause()
        assert app.store.labels[first][0] == "keep" and len(app.store.labels) == 2
        await pilot.press("enter")
        await pilot.pause()
        scr = app.screen
        assert isinstance(scr, TraceScreen)
        await pilot.press("j")
        await pilot.pause()
        assert not isinstance(app.screen, TraceScreen) or app.screen.trace_id == scr.trace_id  # j scrolls


async def test_help_and_palette_explain_codes_and_offer_every_action(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = plain(app.screen.query_one("#help Static"))
        for code in ("0C", "*C", "*C*IC", "*CC", "*C_full", "random", "no_reflection", "verdict_acc", "2C 1I"):
            assert code in text, code
        await pilot.press("escape")
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for what in ("Sort by length", "Next page", "Focus the full-text search box", "Cycle the format filter"):
            assert any(t.startswith(what) for t in titles), (what, titles)
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Cycle correct"))
        await cmd.callback()
        await pilot.pause()
        assert app.filters.correct is True and app.query_one("#f-correct").value is True


async def test_rollouts_browser_filters_and_searches(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        scr = app.screen
        assert isinstance(scr, RolloutsScreen)
        graded = app.store.con.sql("SELECT rollout_id, is_correct, response FROM graded").pl()
        assert scr.total == graded.height
        await pilot.press("c")  # correct only
        await pilot.pause()
        assert scr.total == graded.filter(pl.col("is_correct")).height
        await pilot.press("c")  # incorrect only
        await pilot.pause()
        assert scr.total == graded.filter(~pl.col("is_correct")).height
        await pilot.press("c", "D")  # any; then a verdict that disagrees with the grade
        await pilot.pause()
        refl = run.read("reflections")
        bad = refl.filter(~pl.col("is_valid"))["rollout_id"].unique()
        assert scr.total == graded.filter(pl.col("rollout_id").is_in(bad.implode())).height > 0
        await pilot.press("D", "slash", *graded["response"][0][:12], "enter")
        await pilot.pause()
        needle = graded["response"][0][:12].lower()
        assert (
            scr.total == graded.filter(pl.col("response").str.to_lowercase().str.contains(needle, literal=True)).height
        )


async def test_find_in_trace_jumps_between_matches(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        app.apply(format="*C*IC")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        scr = app.screen
        await pilot.press("slash", *"answer", "enter")
        await pilot.pause()
        hits = scr.match_blocks()
        assert len(hits) >= 2
        await pilot.press("N")
        await pilot.pause()
        assert hits[0].has_class("match") and "block 1/" in str(scr.title_text())
        await pilot.press("N")
        await pilot.pause()
        assert scr.match_blocks()[1].has_class("match") and not scr.match_blocks()[0].has_class("match")
        await pilot.press("P")
        await pilot.pause()
        assert scr.match_blocks()[0].has_class("match")


async def test_a_long_paste_without_bracketed_paste_does_not_freeze(run):
    from tests.tui.test_key_races import type_now

    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        text = "n_samples > 1 OR " * 3000  # 51,000 characters, each a key event (no bracketed paste)
        type_now(app, list(text))
        for _ in range(600):  # minutes before the fix (one redraw per character); a hang guard, not a timing
            await pilot.pause(0.05)
            if len(app.query_one("#f-where").value) == len(text):
                break
        assert app.query_one("#f-where").value == text


# ---- 9. smaller ---------------------------------------------------------------------------------------------
async def test_compare_of_two_traces_hides_eval_keys(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("m", "j", "v")
        await pilot.pause()
        scr = app.screen
        assert isinstance(scr, CompareScreen) and scr.right_id is not None
        assert "cycle" not in {b.binding.action.split("(")[0] for b in scr.active_bindings.values()}


async def test_empty_run_says_so(tmp_path):
    from sfdata.store import RunDir

    r = RunDir(tmp_path / "empty")
    r.init({})
    app = InspectorApp(r.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        assert app.total == 0 and "sf generate" in status(app)


async def test_last_page_key_goes_to_the_last_trace(run, monkeypatch):
    monkeypatch.setattr(app_mod, "PAGE_SIZE", 7)
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("greater_than_sign")
        await pilot.pause()
        last = TraceStore(run.path).page(limit=10_000).rows[-1]["trace_id"]
        assert app.current_id() == last
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert app.offset == 0 and app.query_one("#traces").cursor_row == 0


def test_where_error_drops_duckdb_install_advice():
    auto = "An error occurred while trying to automatically install the required extension 'inet:\nCannot access"
    manual = "Catalog Error: Type with name INET does not exist!\nPlease try: INSTALL inet; LOAD inet;"
    for raw in (auto, manual):
        text = filter_error_text(Exception(raw))
        assert "INSTALL" not in text and "install" not in text and "inet" in text


async def test_where_error_on_screen_has_no_install_advice(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        app.apply(where="'1.2.3.4'::INET IS NOT NULL")
        await pilot.pause()
        assert "filter error" in status(app) and "INSTALL" not in status(app)


async def test_label_counts_follow_another_inspector(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        assert "keep 0 / drop 0" in status(app)
        other = TraceStore(run.path)
        other.set_label(app.current_id(), "keep")
        other.close()
        await pilot.pause(app_mod._LABELS_POLL_S + 0.5)
        assert "keep 1 / drop 0" in status(app)
        assert str(app.query_one("#traces").get_cell_at((0, 0))) == "keep"


async def test_quitting_before_the_index_timer_fires_is_clean(run, monkeypatch):
    monkeypatch.setattr(app_mod, "_INDEX_DELAY_S", 0.05)
    calls = []
    app = InspectorApp(run.path)
    orig = app.store.count
    monkeypatch.setattr(app.store, "count", lambda *a, **kw: calls.append(app._closed) or orig(*a, **kw))
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("q")
    app.maybe_build_index()  # a timer that fires after unmount does nothing
    assert True not in calls
