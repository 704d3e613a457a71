"""Drive the real inspector with Textual's Pilot: filter, open, jump, label, note, compare, export."""

from __future__ import annotations

import polars as pl
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from sfdata.store import RunDir
from sfdata.synth import make_run
from tui.app import InspectorApp
from tui.components import CompareScreen, HelpScreen, NoteScreen, TraceScreen
from tui.data import FilterError, Filters, TraceStore
from tui.tags import segments, split_samples


@pytest.fixture()
def run(tmp_path):
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=("0C", "*C", "*C*IC", "*CC", "random"), n=3))
    skills_stage(r)
    return r


def test_store_filters_pages_and_sql_errors(run):
    store = TraceStore(run.path)
    traces = run.read("traces")
    assert store.count() == traces.height
    assert store.count(Filters(format="*C*IC")) == traces.filter(pl.col("format") == "*C*IC").height
    assert store.count(Filters(correct=False)) == traces.filter(~pl.col("is_correct")).height
    assert store.count(Filters(skills=("backtrack",))) == traces.filter(pl.col("n_backtracks") > 0).height
    assert store.count(Filters(skills=("!backtrack",))) == traces.filter(pl.col("n_backtracks") == 0).height
    assert store.count(Filters(where="n_samples >= 3")) == traces.filter(pl.col("n_samples") >= 3).height
    both = Filters(format="*C", where="n_samples >= 2", search="let me try")
    expect = traces.filter(
        (pl.col("format") == "*C")
        & (pl.col("n_samples") >= 2)
        & pl.col("trace").str.to_lowercase().str.contains("let me try", literal=True)
    ).height
    assert store.count(both) == expect
    # user text is a parameter: quotes cannot break out
    assert store.count(Filters(search="x' OR 1=1 --")) == 0
    page = store.page(Filters(), offset=0, limit=5, sort="length", descending=True)
    lengths = [r["length"] for r in page.rows]
    assert lengths == sorted(lengths, reverse=True) and page.total == traces.height
    assert all(r["verdict_acc"] == 1.0 for r in page.rows if r["verdict_acc"] is not None)
    with pytest.raises(FilterError):
        store.count(Filters(where="no_such_column > 1"))
    words = Filters(where="lower(trace) LIKE '%set%' OR format = 'drop'")  # SQL words inside literals are fine
    assert store.count(words) == traces.filter(pl.col("trace").str.to_lowercase().str.contains("set")).height
    with pytest.raises(FilterError, match="one boolean expression"):
        store.count(Filters(where="1=1; DROP TABLE x"))
    with pytest.raises(FilterError, match="unknown skill"):
        store.count(Filters(skills=("telepathy",)))


def test_segments_and_blocks_handle_malformed_tags():
    t = "<think>\n<sample>a <answer>1</answer></sample>\n<reflect>ok <verdict>Correct</verdict></reflect>\nglue\n</think>\nend\n<answer>\n1\n</answer>"
    kinds = [k for k, _ in segments(t) if k != "tag"]
    assert "verdict" in kinds and "reflect" in kinds and "answer" in kinds and "glue" in kinds
    blocks = [k for k, _ in split_samples(t)]
    assert blocks == ["sample", "reflect", "glue", "answer"]
    assert split_samples("<sample>never closed") == [("glue", "<sample>never closed")]
    assert segments("</reflect> stray") == [("tag", "</reflect>"), ("glue", " stray")]


async def test_filter_open_jump_label_note_and_files(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        total = run.read("traces").height
        assert app.total == total and f"{total:,}" in str(app.query_one("#status").content)
        # filter: format via the drop-down, then raw SQL where
        app.query_one("#f-format").value = "*C*IC"
        await pilot.pause()
        n_bt = run.read("traces").filter(pl.col("format") == "*C*IC").height
        assert app.total == n_bt
        app.query_one("#f-where").value = "n_samples >= 99"
        await pilot.click("#f-where")
        await pilot.press("enter")
        await pilot.pause()
        assert app.total == 0
        await pilot.press("r")
        await pilot.pause()
        assert app.total == total
        # a bad WHERE shows an error and keeps the app alive
        app.query_one("#f-where").value = "bogus_col = 1"
        await pilot.click("#f-where")
        await pilot.press("enter")
        await pilot.pause()
        assert "filter error" in str(app.query_one("#status").content)
        await pilot.press("escape", "r")  # the box keeps focus to fix the error; esc gives keys back
        # open the first multi-sample trace
        app.apply(where="n_samples >= 3")
        await pilot.pause()
        first = app.current_id()
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TraceScreen) and screen.trace_id == first
        assert len(screen.samples()) >= 3
        await pilot.press("n", "n")
        assert screen.current == 1 and screen.samples()[1].has_class("current")
        await pilot.press("p")
        assert screen.current == 0
        await pilot.press("a")
        assert all(c.collapsed for c in screen.samples())
        await pilot.press("Y")  # keep and stay (y keeps and moves on)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        app.screen.query_one("#note-input").value = "good backtrack"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("escape")
        await pilot.pause()
        # label from the table too
        await pilot.press("down", "x")
        await pilot.pause()
    labels = RunDir(run.path).read("labels")
    rows = {r["trace_id"]: (r["label"], r["note"]) for r in labels.iter_rows(named=True)}
    assert rows[first] == ("keep", "good backtrack")
    assert sorted(v[0] for v in rows.values()) == ["drop", "keep"]
    assert not list(run.path.glob(".labels.parquet*"))  # no temp files left


async def test_label_filter_compare_export_help_palette(run):
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        a = app.current_id()
        await pilot.press("y")  # keep a, cursor moves down
        b = app.current_id()
        await pilot.press("y", "m")  # keep b, mark the next one
        c = app.current_id()
        assert app.marked == c
        await pilot.press("l")  # label filter: keep
        await pilot.pause()
        assert app.total == 2
        await pilot.press("E")
        await pilot.pause()
        kept = pl.read_parquet(run.path / "exports" / "kept.parquet")
        assert sorted(kept["trace_id"]) == sorted([a, b])
        await pilot.press("l", "l", "l")  # drop -> unlabeled -> any
        await pilot.pause()
        assert app.total == run.read("traces").height
        app.open_trace(a)
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen) and app.screen.right_id == c
        await pilot.press("escape", "escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        titles = [cmd.title for cmd in app.get_system_commands(app.screen)]
        assert {"Export kept traces", "Reset filters", "Compare with marked"} <= set(titles)
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_compare_with_eval_output_when_nothing_marked(run):
    from sfdata.store.run import now_utc

    now = now_utc()
    ev = pl.DataFrame(
        {
            "eval_id": ["e1", "e2"],
            "model": ["m", "m"],
            "stage": ["sft", "sft"],
            "task": ["countdown"] * 2,
            "level": [3, 4],
            "question_id": ["q", "q2"],
            "sample_idx": [0, 0],
            "budget_rounds": [0, 0],
            "prompt_setup": ["original, 0-shot"] * 2,
            "prompt": ["p", "p"],
            "response": ["<sample>x</sample><answer>1</answer>", "<answer>2</answer>"],
            "extracted_answer": ["1", "2"],
            "is_correct": [True, False],
            "reason": ["correct", "wrong_value"],
            "completion_tokens": [5, 3],
            "created_at": [now, now],
        }
    )
    from sfdata.store.parquet import write_parquet_atomic

    (run.path / "eval").mkdir(exist_ok=True)
    write_parquet_atomic(ev, run.path / "eval" / "part-0.parquet")
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        scr = app.screen
        assert isinstance(scr, CompareScreen) and scr.right_id is None and scr.evals.height == 2
        assert "eval sft countdown:3" in str(scr.query_one("#right-title").content)
        await pilot.press("n")
        assert "countdown:4" in str(scr.query_one("#right-title").content)


def test_inspect_resolves_a_published_sft_file(run, tmp_path, monkeypatch):
    from sfdata.hub.export import export
    from tui.source import resolve_source

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (f,) = export(run.path, "sft", tmp_path / "out")
    resolved = resolve_source(str(f))
    assert resolved.run != run.path and RunDir(resolved.run).read("traces").height == run.read("traces").height
    assert resolved.labels_path == f.with_name(f.name.removesuffix(".parquet") + ".labels.parquet")
    assert resolve_source(str(run.path)).run == run.path
