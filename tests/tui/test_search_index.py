"""The inspector's search index: same answers as the Parquet scan, rebuilt when stale or broken, used by the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.skills import skills_stage
from sfdata.store import RunDir
from sfdata.synth import make_run
from tui.app import InspectorApp
from tui.data import COLUMNS, FilterError, Filters, TraceStore
from tui.search_index import SearchIndexError, build_index, index_path, open_index, signature

ROOT = Path(__file__).resolve().parents[2]
#: texts that break naive LIKE patterns, quoting, escaping or ASCII-only lowercasing
HOSTILE_TEXTS = [
    "I am 100% sure: 50%_off is not a_b",
    "back\\slash and \\\\double, quote ' and \"double\" and ''",
    "ÜNÏCÖDE İstanbul STRASSE straße ΣΊΣΥΦΟΣ",
    "日本語のトレース\twith a tab\nand newline",
    "x' OR 1=1 -- comment /* c */ ;",
]
QUERIES = [
    "",
    "a",
    "ab",
    "%",
    "_",
    "%_",
    "a_b",
    "100%",
    "\\",
    "\\\\",
    "'",
    "''",
    '"double"',
    "x' OR 1=1 --",
    "ünïcödé",
    "İSTANBUL",
    "i̇stanbul",
    "STRASSE",
    "straße",
    "σίσυφος",
    "日本",
    "\t",
    "\n",
    "let me try",
    "LET ME TRY",
    "<sample>",
    "no such text anywhere at all",
]


def _add_hostile_part(run: RunDir) -> None:
    base = run.read("traces").head(len(HOSTILE_TEXTS))
    extra = base.with_columns(
        pl.Series("trace", [f"<think>\n{t}\n</think>" for t in HOSTILE_TEXTS]),
        pl.Series("trace_id", [f"hostile{i}" for i in range(len(HOSTILE_TEXTS))]),
    )
    run.append("traces", extra)


@pytest.fixture()
def run(tmp_path):
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=("0C", "*C", "*C*IC", "*CC", "random"), n=3))
    skills_stage(r)
    _add_hostile_part(r)
    return r


def _indexed(run: RunDir) -> TraceStore:
    store = TraceStore(run.path)
    assert store.index_state() == "missing"
    store.attach_index(store.build_index())
    assert store.index_state() == "ready"
    return store


def _ids(store: TraceStore, f: Filters, sort: str | None = "trace_id", descending: bool = False) -> list[str]:
    return [r["trace_id"] for r in store.page(f, 0, 100_000, sort, descending).rows]


def test_indexed_search_gives_exactly_the_scan_results(run):
    fast, scan = _indexed(run), TraceStore(run.path, use_index=False)
    traces = run.read("traces")
    hit_something = 0
    for q in QUERIES:
        f = Filters(search=q)
        want = _ids(scan, f)
        assert fast._plan(f)[0] == "fi" and scan._plan(f)[0] == "tl"
        assert _ids(fast, f) == want, q
        assert fast.count(f) == scan.count(f) == len(want), q
        assert fast.page(f, 0, 3).total == len(want), q  # the page's count, full page or not
        hit_something += bool(want) and len(want) < traces.height
        if q.isascii():  # an independent brute force where Python and DuckDB lowercase alike
            brute = traces.filter(pl.col("trace").str.to_lowercase().str.contains(q.lower(), literal=True))
            assert sorted(brute["trace_id"]) == want, q
    assert hit_something >= 10  # the hostile texts are really found, not only empty answers
    assert _ids(fast, Filters(search="100%")) == ["hostile0"]
    assert _ids(fast, Filters(search="a_b")) == ["hostile0"]
    assert set(_ids(fast, Filters(search="STRASSE"))) == {"hostile2"}
    # combined with the other filters, and on the joined view
    for f in (
        Filters(search="let me", format="*C", correct=True),
        Filters(search="<sample>", where="n_samples >= 2 AND verdict_acc IS NOT NULL"),
        Filters(search="<answer>", skills=("retry", "!backtrack")),
    ):
        assert _ids(fast, f) == _ids(scan, f) and fast.count(f) == scan.count(f)


def test_sort_on_every_column_and_format_filter_match_the_scan(run):
    fast = _indexed(run)
    ids = run.read("traces")["trace_id"].to_list()
    fast.set_label(ids[3], "keep")
    fast.set_label(ids[5], "drop", "a note")
    scan = TraceStore(run.path, use_index=False)  # opened after the labels exist
    for col in COLUMNS:
        for desc in (False, True):
            assert _ids(fast, Filters(), col, desc) == _ids(scan, Filters(), col, desc), (col, desc)
    for fmt in fast.formats():
        f = Filters(format=fmt)
        assert _ids(fast, f, "length", True) == _ids(scan, f, "length", True)
        assert fast.count(f) == scan.count(f)
    for f in (Filters(label="keep"), Filters(label="none", search="<think>"), Filters(where="note = 'a note'")):
        assert _ids(fast, f) == _ids(scan, f) and fast.count(f) == scan.count(f)
    # pages carry the same cells, labels (looked up per page) and joined columns included
    a = fast.page(Filters(), 0, 500, "n_samples")
    b = scan.page(Filters(), 0, 500, "n_samples")
    assert a.rows == b.rows and a.total == b.total == len(ids)
    assert fast.stats(Filters(format="*C")) == scan.stats(Filters(format="*C"))


def test_unsorted_pages_follow_the_file_order_without_gaps(run):
    fast = _indexed(run)
    ids = [r["trace_id"] for r in fast.page(Filters(), 0, 100_000).rows]
    assert sorted(ids) == sorted(run.read("traces")["trace_id"].to_list())
    pages = [r["trace_id"] for off in range(0, len(ids), 7) for r in fast.page(Filters(), off, 7).rows]
    assert pages == ids and ids[-len(HOSTILE_TEXTS) :] == [f"hostile{i}" for i in range(len(HOSTILE_TEXTS))]


def test_filters_naming_columns_the_index_lacks_scan_the_parquet(run):
    fast, scan = _indexed(run), TraceStore(run.path, use_index=False)
    for f in (
        Filters(where="trace LIKE '%100\\%%' ESCAPE '\\'"),
        Filters(where="len(rollout_ids) > 1", search="let"),
        Filters(skills=("reflect",)),
        Filters(skills=("wait",)),
        Filters(where="columns('prompt') IS NOT NULL"),
    ):
        assert fast._plan(f)[0] in ("tl", "t")
        assert _ids(fast, f) == _ids(scan, f)
    assert fast.count(Filters(where="trace LIKE '%100\\%%' ESCAPE '\\'")) == 1
    with pytest.raises(FilterError):
        fast.count(Filters(where="no_such_column > 1"))


def test_stale_index_after_adding_or_replacing_a_part_is_rebuilt(run):
    _indexed(run).close()
    assert TraceStore(run.path).index_state() == "ready"
    # a new part: the old index no longer describes the traces
    extra = run.read("traces").head(2).with_columns(pl.Series("trace_id", ["new0", "new1"]))
    new_part = run.append("traces", extra)
    store = TraceStore(run.path)
    assert store.index_state() == "stale" and store.index is None
    assert store.count(Filters(search="<think>")) == run.read("traces").height  # the scan still answers
    store.attach_index(store.build_index())
    assert "new0" in _ids(store, Filters(search="<think>"))
    # a part replaced in place (same name, new content)
    replaced = extra.with_columns(pl.Series("trace", ["<think>replaced text</think>", "<think>x</think>"]))
    replaced.write_parquet(new_part)
    os.utime(new_part, ns=(1, 1))  # even an old mtime is a different one
    store = TraceStore(run.path)
    assert store.index_state() == "stale"
    store.attach_index(store.build_index())
    assert _ids(store, Filters(search="REPLACED TEXT")) == ["new0"]
    assert _ids(store, Filters(search="REPLACED")) == _ids(
        TraceStore(run.path, use_index=False), Filters(search="replaced")
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other_arrow", "bad_offsets"])
def test_corrupt_index_is_ignored_with_a_warning_and_rebuilt(run, damage):
    _indexed(run).close()
    path = index_path(run.path, None)
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not an arrow file at all" * 100)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "other_arrow":  # a valid Arrow file that claims the right signature but lacks the columns
        sig = signature(TraceStore(run.path, use_index=False).trace_files)
        meta = {b"sf_index": json.dumps({"signature": sig, "rows": 1}).encode()}
        table = pa.table({"trace_id": ["x"]}).replace_schema_metadata(meta)
        with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, table.schema) as w:
            w.write_table(table)
    else:  # the right file, but two texts' offsets out of order (a scan would read a negative length)
        good = pa.ipc.open_file(pa.py_buffer(data)).read_all()
        text = good.column("_lower").combine_chunks()
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int64).copy()
        offsets[5], offsets[6] = offsets[6], offsets[5]
        bad = pa.LargeStringArray.from_buffers(len(text), pa.py_buffer(offsets), text.buffers()[2])
        table = good.set_column(good.schema.get_field_index("_lower"), "_lower", bad)
        with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, good.schema) as w:
            w.write_table(table)
    with pytest.warns(UserWarning, match="search index ignored, it will be rebuilt"):
        store = TraceStore(run.path)
    assert store.index is None and store.index_state() == "stale" and str(path) in (store.index_warning or "")
    want = _ids(TraceStore(run.path, use_index=False), Filters(search="let me"))
    assert _ids(store, Filters(search="let me")) == want  # still answers, by scanning
    store.attach_index(store.build_index())
    assert _ids(store, Filters(search="let me")) == want and store.index_state() == "ready"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TraceStore(run.path).index_state() == "ready"


def test_open_index_reports_missing_stale_and_unreadable(tmp_path, run):
    files = TraceStore(run.path, use_index=False).trace_files
    path = tmp_path / "idx.arrow"
    assert open_index(path, signature(files)) is None
    with pytest.raises(SearchIndexError, match="stopped"):  # an app quitting mid-build
        build_index(files, path, should_stop=lambda: True)
    assert not path.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    idx = build_index(files, path)
    assert idx.rows == run.read("traces").height and open_index(path, signature(files)) is not None
    assert open_index(path, signature(files[:-1])) is None  # stale
    path.write_bytes(b"\0" * 64)
    with pytest.raises(SearchIndexError, match="idx.arrow"):
        open_index(path, signature(files))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_two_processes_building_at_once_leave_one_good_index(run):
    code = "import sys\nfrom tui.data import TraceStore\ns=TraceStore(sys.argv[1])\ni=s.build_index()\nprint(i.rows)\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(run.path)], cwd=ROOT, env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    n = run.read("traces").height
    assert [int(o) for o in outs] == [n, n]
    assert TraceStore(run.path).index_state() == "ready"
    leftovers = [p.name for p in (run.path / ".index").iterdir() if p.name.startswith("traces.arrow")]
    assert leftovers == ["traces.arrow"]  # (beside it: skills-KEY.arrow and traces.checks.json, the open checks)


def test_single_file_source_gets_its_own_index(run):
    part = run.files("traces")[0]
    one = TraceStore(run.path, traces_files=[part])
    assert one.index_file != index_path(run.path, None)
    one.attach_index(one.build_index())
    assert one.index.rows == pl.read_parquet(part).height
    assert TraceStore(run.path).index_state() == "missing"  # the run's own index is another file


def test_cli_build_index(run):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sfdata.app.cli.main", "inspect", str(run.path), "--build-index"]
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "search index built" in first.stdout and "traces.arrow" in first.stdout
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "up to date" in again.stdout


def _table_ids(app: InspectorApp) -> list[str]:
    return [k.value for k in app.query_one("#traces").rows]


async def _index_built(app: InspectorApp, pilot) -> None:
    """The app starts the build a moment after the first page (tui.app._INDEX_DELAY_S): wait for it."""
    import tui.app as app_mod

    await pilot.pause(app_mod._INDEX_DELAY_S + 0.2)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_app_builds_the_index_then_search_sort_and_format_repaint_the_page(run):
    scan = TraceStore(run.path, use_index=False)
    assert not index_path(run.path, None).exists()  # the app opens on the Parquet scan, then builds the index
    app = InspectorApp(run.path, index_min_traces=0)
    async with app.run_test(size=(150, 45)) as pilot:
        # (no "missing" check here: on a loaded machine the build may start before the first pause returns)
        await _index_built(app, pilot)
        assert app.store.index_state() == "ready" and not app.indexing
        # full-text search through the box
        app.query_one("#f-search").value = "100%"
        await pilot.click("#f-search")
        await pilot.press("enter")
        await pilot.pause()
        assert _table_ids(app) == ["hostile0"] and app.total == 1
        assert "1 matching" in str(app.query_one("#status").content)
        app.query_one("#f-search").value = "Let Me"
        await pilot.click("#f-search")
        await pilot.press("enter")
        await pilot.pause()
        want = _ids(scan, Filters(search="let me"))
        assert sorted(_table_ids(app)) == want and app.total == len(want)
        # sort through the sort screen: length, then the same column again flips it
        for press_again, desc in ((False, False), (True, True)):
            await pilot.press("s")
            await pilot.pause()
            if not press_again:
                await pilot.press(*["down"] * COLUMNS.index("length"))
            await pilot.press("enter")
            await pilot.pause()
            assert (app.sort, app.descending) == ("length", desc)
            assert _table_ids(app) == _ids(scan, Filters(search="let me"), "length", desc)
        # the format filter key
        await pilot.press("r", "f")
        await pilot.pause()
        fmt = scan.formats()[0]
        assert app.filters.format == fmt
        assert set(_table_ids(app)) == set(_ids(scan, Filters(format=fmt))) and app.total == scan.count(
            Filters(format=fmt)
        )


async def test_app_with_a_corrupt_index_warns_rebuilds_and_keeps_working(run):
    _indexed(run).close()
    index_path(run.path, None).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="search index ignored"):
        app = InspectorApp(run.path, index_min_traces=0)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        notes = [(n.title, n.message) for n in app._notifications]
        assert any(t == "search index" and "rebuilt" in m for t, m in notes)
        await _index_built(app, pilot)
        assert app.store.index_state() == "ready"
        app.query_one("#f-search").value = "a_b"
        await pilot.click("#f-search")
        await pilot.press("enter")
        await pilot.pause()
        assert _table_ids(app) == ["hostile0"]


async def test_small_runs_are_not_indexed_by_the_app(run):
    app = InspectorApp(run.path)  # default threshold: far more traces than this run has
    async with app.run_test(size=(150, 45)) as pilot:
        await _index_built(app, pilot)
        assert app.store.index_state() == "missing" and not app.indexing
    assert not list((run.path / ".index").glob("traces.arrow*"))  # (the skills side table and checks may be there)


def test_skills_columns_are_aligned_once_and_follow_a_rewritten_skills_table(run):
    from tui.search_index import side_path

    fast = _indexed(run)
    f = Filters(where="verdict_acc < 1")
    want = _ids(TraceStore(run.path, use_index=False), f, "verdict_acc", True)
    assert _ids(fast, f, "verdict_acc", True) == want
    side = side_path(fast.index_file, "skills")
    assert side.is_file()  # kept for the next session
    assert _ids(TraceStore(run.path), f, "verdict_acc", True) == want
    # sf skills rewrites skills.parquet: the aligned columns are rebuilt from the new table
    skills = RunDir(run.path).read("skills")
    flipped = skills.with_columns(  # every checked verdict now says the opposite
        n_verdict_tp=pl.col("n_verdict_fn"),
        n_verdict_fn=pl.col("n_verdict_tp"),
        n_verdict_tn=pl.col("n_verdict_fp"),
        n_verdict_fp=pl.col("n_verdict_tn"),
    )
    RunDir(run.path).write("skills", flipped)
    want2 = _ids(TraceStore(run.path, use_index=False), f, "verdict_acc", True)
    assert want2 != want and _ids(fast, f, "verdict_acc", True) == want2
    # a damaged side table is reported and rebuilt
    side.write_bytes(b"junk")
    store = TraceStore(run.path)
    with pytest.warns(UserWarning, match="skills side table ignored"):
        assert _ids(store, f, "verdict_acc", True) == want2
