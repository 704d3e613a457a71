"""Curator flows of the inspector (issue 16), driven with Textual's Pilot on a synthetic run."""

from __future__ import annotations

import io

import polars as pl
import pytest
from rich.console import Console
from rich.text import Text

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from sfdata.store import RunDir
from sfdata.synth import make_run
from tui import app as app_mod
from tui.app import InspectorApp
from tui.components import CompareScreen, HelpScreen, RolloutsScreen, SortScreen, StatsPane, TraceScreen
from tui.components.where_suggester import ColumnSuggester
from tui.data import Filters, TraceStore
from tui.source import Source, labels_path_for, resolve_source

FORMATS = ("0C", "*C", "*C*IC", "*CC", "random", "no_reflection")


@pytest.fixture()
def run(tmp_path):
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=FORMATS, n=3))
    skills_stage(r)
    return r


def plain(widget) -> str:
    """What a Static shows, as plain text (tables and Text alike)."""
    console = Console(width=250, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def _status(app) -> str:
    return plain(app.query_one("#status"))


# ---- 1. curation flow ------------------------------------------------------------------------
async def test_trace_view_steps_and_labels_then_advances(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        ids = [app.query_one("#traces").coordinate_to_cell_key((i, 0)).row_key.value for i in range(3)]
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TraceScreen) and screen.trace_id == ids[0]
        await pilot.press("right")
        await pilot.pause()
        assert app.screen.trace_id == ids[1] and "2/" in str(app.screen.title_text())
        await pilot.press("left")
        await pilot.pause()
        assert app.screen.trace_id == ids[0]
        await pilot.press("y")  # keep + next, still in the trace view
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen) and app.screen.trace_id == ids[1]
        await pilot.press("x")
        await pilot.pause()
        assert app.screen.trace_id == ids[2]
    labels = {r["trace_id"]: r["label"] for r in RunDir(run.path).read("labels").iter_rows(named=True)}
    assert labels == {ids[0]: "keep", ids[1]: "drop"}


async def test_labelling_under_unlabeled_filter_walks_the_remaining_traces(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        app.apply(label="none")
        await pilot.pause()
        total = app.total
        await pilot.press("enter")
        await pilot.pause()
        seen = []
        for _ in range(3):
            seen.append(app.screen.trace_id)
            await pilot.press("y")
            await pilot.pause()
        assert len(set(seen)) == 3 and isinstance(app.screen, TraceScreen) and app.screen.trace_id not in seen
        shown = app.screen.trace_id
        await pilot.press("escape")  # the listing, frozen while labelling, is read again
        await pilot.pause()
        assert app.total == total - 3 and app.current_id() == shown


async def test_escape_leaves_text_box_and_table_keys_stay_in_the_table(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("slash", "escape", "down", "y")
        await pilot.pause()
        assert app.query_one("#f-search").value == ""  # y labelled, it was not typed
        assert len(app.store.labels) == 1
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f", "c", "l")  # table keys: nothing happens in the trace view
        await pilot.pause()
        assert app.filters == Filters() and isinstance(app.screen, TraceScreen)
        await pilot.press("slash")
        await pilot.press("w", "a")
        await pilot.press("escape")  # leaves the find box, stays on the trace
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TraceScreen)


# ---- 2. statistics -----------------------------------------------------------------------------
def test_stats_match_polars_for_a_filter(run):
    store = TraceStore(run.path)
    traces = run.read("traces").with_columns(pl.col("trace").str.len_chars().alias("length"))
    skills = run.read("skills").filter(pl.col("source") == "trace")
    for f, sel in [(Filters(), traces), (Filters(format="*C*IC"), traces.filter(pl.col("format") == "*C*IC"))]:
        s = store.stats(f)
        assert s.total == sel.height
        assert s.correct_rate == pytest.approx(sel["is_correct"].mean())
        assert dict(s.formats) == dict(sel.group_by("format").len().iter_rows())
        sk = skills.filter(pl.col("id").is_in(sel["trace_id"].implode()))
        checked = sk.select(pl.sum_horizontal("n_verdict_tp", "n_verdict_fp", "n_verdict_tn", "n_verdict_fn")).sum()
        assert s.verdict_acc == pytest.approx(sk["n_verdict_right"].sum() / checked.item())
        assert s.skills["backtracks"] == (sel["n_backtracks"].sum(), (sel["n_backtracks"] > 0).sum())
        assert s.skills["cue alternatively"][0] == sk["cue_alternatively"].sum()
        assert sum(n for _, _, n in s.length_hist) == sel.height
        assert s.length_hist[0][0] == sel["length"].min() and s.length_hist[-1][1] >= sel["length"].max()


async def test_stats_pane_follows_the_filter(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        pane = app.query_one(StatsPane)
        assert pane.display and f"{app.total:,}" in plain(pane)
        app.query_one("#f-format").value = "*C*IC"
        await pilot.pause()
        n = run.read("traces").filter(pl.col("format") == "*C*IC").height
        text = plain(pane)
        assert "*C*IC" in text and "no_reflection" not in text and f"{n:,}" in text


# ---- 3. questions and sources --------------------------------------------------------------------
async def test_question_column_all_traces_of_a_question_and_rollouts(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        table = app.query_one("#traces")
        assert {"question", "final_answer"} <= {str(c.label).split()[0] for c in table.columns.values()}
        await pilot.press("enter")
        await pilot.pause()
        tr = app.screen.trace
        await pilot.press("o")
        await pilot.pause()
        scr = app.screen
        assert isinstance(scr, RolloutsScreen) and scr.total == len(set(tr["rollout_ids"]))
        body = plain(scr.query_one("#rollout-body"))
        assert "reflection" in body and "reason" in body  # real outputs with their grade and verdicts
        await pilot.press("escape", "Q")
        await pilot.pause()
        same_q = run.read("traces").filter(pl.col("question_id") == tr["question_id"]).height
        assert app.total == same_q and not isinstance(app.screen, TraceScreen)


async def test_run_without_traces_opens_the_rollouts_browser(tmp_path):
    r = make_run(tmp_path / "run", n_questions=3, n=2, k=1, seed=3)
    app = InspectorApp(r.path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RolloutsScreen) and app.screen.total == r.read("rollouts").height


# ---- 4. WHERE box -----------------------------------------------------------------------------------
async def test_where_errors_whole_stale_rows_cleared_and_completion(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        app.query_one("#f-where").value = "nosuch = 1"
        await pilot.click("#f-where")
        await pilot.press("enter")
        await pilot.pause()
        status = _status(app)
        assert "filter error" in status and "Candidate bindings" in status  # the whole message
        assert app.query_one("#traces").row_count == 0
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "verdict_acc" in plain(app.screen.query_one("#help Static"))
    sugg = ColumnSuggester([n for n, _ in TraceStore(run.path).columns()])
    assert await sugg.get_suggestion("n_samples > 1 AND verd") == "n_samples > 1 AND verdict_acc"
    assert TraceStore(run.path).count(Filters(where="verdict_acc >= 0 AND length > 0")) >= 1


# ---- 5. reading a trace -------------------------------------------------------------------------------
async def test_trace_header_titles_search_and_diff(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        app.apply(format="*C*IC", search="let me try")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        scr = app.screen
        n_blocks = len(scr.samples())
        assert f"{n_blocks} sample block(s)" in str(scr.title_text())
        hits = scr.trace["trace"].lower().count("let me try")
        assert hits and f"{hits} match(es) of 'let me try'" in str(scr.title_text())
        titles = [str(c.title) for c in scr.samples()]
        assert all(("✓ correct" in t) or ("✗ incorrect" in t) for t in titles)
        assert "repeats sample" in titles[-1]
        first_line = scr.trace["trace"].split("<sample>")[1].strip().splitlines()[0]
        assert not any(first_line[:20] in t for t in titles)
        body = scr.query_one(".sample-text").content
        assert isinstance(body, Text) and any("reverse" in str(sp.style) for sp in body.spans)
        await pilot.press("m", "right", "v")
        await pilot.pause()
        cmp = app.screen
        assert isinstance(cmp, CompareScreen)
        left = cmp.query_one("#left-body").content
        assert any("on #" in str(sp.style) for sp in left.spans)  # changed lines marked


# ---- 6. navigation ------------------------------------------------------------------------------------
async def test_sort_indicator_choice_and_first_last_page(run, monkeypatch):
    monkeypatch.setattr(app_mod, "PAGE_SIZE", 5)
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SortScreen)
        app.screen.dismiss("verdict_acc")
        await pilot.pause()
        table = app.query_one("#traces")
        assert app.sort == "verdict_acc" and str(table.columns["verdict_acc"].label) == "verdict_acc ▲"
        await pilot.press("S")
        await pilot.pause()
        assert app.descending and "▼" in str(table.columns["verdict_acc"].label)
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert app.offset == ((app.total - 1) // 5) * 5 and app.offset > 0
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert app.offset == 0
    page = TraceStore(run.path).page(sort="verdict_acc", descending=True, limit=1000)
    accs = [r["verdict_acc"] for r in page.rows if r["verdict_acc"] is not None]
    assert accs == sorted(accs, reverse=True)


# ---- 7. sources -----------------------------------------------------------------------------------------
async def test_kept_file_opens_over_its_run_with_the_same_numbers(run):
    store = TraceStore(run.path)
    ids = run.read("traces")["trace_id"].to_list()[:4]
    for t in ids:
        store.set_label(t, "keep")
    path, n = store.export_kept()
    src = resolve_source(str(path))
    assert src.run == run.path and src.labels_path is None and src.title == "run/exports/kept.parquet"
    part = resolve_source(str(run.files("traces")[0]))
    assert part.run == run.path and part.title.startswith("run/traces/part-")
    app = InspectorApp(src)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        assert app.total == n and app.sub_title == "run/exports/kept.parquet"
        whole = {r["trace_id"]: r["verdict_acc"] for r in store.page(limit=1000).rows}
        for r in app.store.page().rows:
            assert r["verdict_acc"] == whole[r["trace_id"]] and r["label"] == "keep"


async def test_standalone_traces_file_keeps_labels_next_to_it(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    f = tmp_path / "elsewhere" / "mine.parquet"
    f.parent.mkdir()
    run.read("traces").head(5).write_parquet(f)
    src = resolve_source(str(f))
    assert src.labels_path == labels_path_for(f) == f.with_name("mine.labels.parquet") and src.title == "mine.parquet"
    app = InspectorApp(src)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        assert app.total == 5 and "mine.labels.parquet" in _status(app)
        await pilot.press("y")
        await pilot.pause()
    assert pl.read_parquet(f.with_name("mine.labels.parquet"))["label"].to_list() == ["keep"]
    assert isinstance(src, Source)


# ---- 8. small terminals ------------------------------------------------------------------------------------
async def test_80x24_layout(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.has_class("-narrow")
        fmt = app.query_one("#f-format")
        assert fmt.size.width >= len("no_reflection") + 7
        table = app.query_one("#traces")
        assert table.region.height >= 10 and list(table.columns)[0].value == "label"
        await pilot.press("t")  # the stats pane replaces the table and takes the keys
        await pilot.pause()
        assert app.query_one(StatsPane).region.width >= 70 and app.focused is app.query_one(StatsPane)
        await pilot.press("t")
        await pilot.pause()
        assert app.focused is table and table.region.width >= 70
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query_one("#help").region.width <= 80
        await pilot.press("escape", "enter", "i")
        await pilot.pause()
        assert app.screen.query_one("#side").region.width >= 70
