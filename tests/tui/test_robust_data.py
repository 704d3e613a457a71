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


# ---- issue 22: odd data never crashes or hangs the store ------------------------------------------------------
def _rewrite_part(run, table: str, **cols) -> None:
    """Replace columns of a table's first part in place (test data: formats, variants, cells)."""
    import polars as pl

    part = run.files(table)[0]
    df = pl.read_parquet(part)
    df = df.with_columns(**{k: (v(df) if callable(v) else v) for k, v in cols.items()})
    df.write_parquet(part)


def test_where_failing_at_run_time_is_a_one_line_error(built):
    from tui.data import FilterError

    store = TraceStore(built.path)
    with pytest.raises(FilterError) as e:
        store.page(Filters(where="CAST(final_answer AS INTEGER) > 3"))
    assert "\n" not in str(e.value) and "Conversion Error" in str(e.value)
    with pytest.raises(FilterError):
        store.stats(Filters(where="CAST(final_answer AS INTEGER) > 3"))
    assert store.page().total == store.count() > 0  # the store is still usable


def test_huge_cells_are_cut_before_they_are_fetched(built):
    import polars as pl

    from tui.data import CELL_CHARS, TRACE_CHARS

    big = "7" * 20_000_000
    first = pl.int_range(pl.len()) == 0  # one 20 MB cell (and a 20 MB trace) in the first row
    _rewrite_part(
        built,
        "traces",
        final_answer=pl.when(first).then(pl.lit(big)).otherwise(pl.col("final_answer")),
        trace=pl.when(first).then(pl.lit("<answer>" + big + "</answer>")).otherwise(pl.col("trace")),
    )
    store = TraceStore(built.path)
    page = store.page(limit=5)
    assert len(page.rows[0]["final_answer"]) == CELL_CHARS  # 2,000 chars came back, not 20 MB
    assert all(len(r["final_answer"]) < 100 for r in page.rows[1:])
    assert page.rows[0]["length"] == len(big) + 17  # the real length is still known
    t = store.trace(page.rows[0]["trace_id"])
    assert len(t["trace"]) == TRACE_CHARS and len(t["final_answer"]) == TRACE_CHARS
    assert t["truncated"] == len(big) + 17


def test_control_characters_never_reach_the_screen(built):
    import polars as pl

    from tui.data import visible

    esc = "\x1b[2J\x1b]0;pwned\x07"
    _rewrite_part(built, "traces", final_answer=pl.lit(esc + "42"), trace=pl.col("trace") + esc)
    store = TraceStore(built.path)
    rows = store.page(limit=5).rows
    t = store.trace(rows[0]["trace_id"])
    for text in (rows[0]["final_answer"], t["trace"], t["final_answer"]):
        assert "\x1b" not in text and "\x07" not in text and "␛" in text
    assert visible("a\tb\nc\x9b") == "a\tb\nc\ufffd"


def test_wrong_type_part_is_skipped_with_its_reason(built):
    import polars as pl

    part = built.files("traces")[0]
    bad = pl.read_parquet(part).with_columns(pl.col("n_samples").cast(pl.String) + "x", pl.col("trace_id") + "-bad")
    bad.write_parquet(part.with_name("part-zz-wrong.parquet"))
    with pytest.warns(UserWarning, match="part-zz-wrong.parquet: column n_samples"):
        store = TraceStore(built.path)
    assert store.page().total == pl.read_parquet(part).height  # the readable part is shown
    assert any("part-zz-wrong.parquet" in w and "expected INTEGER" in w for w in store.open_warnings)


def test_wrong_type_check_reads_each_traces_footer_once(built, monkeypatch):
    import polars as pl

    import sfdata.store.parquet as parquet
    import tui.data

    part = built.files("traces")[0]
    bad = pl.read_parquet(part).with_columns(pl.col("n_samples").cast(pl.String) + "x", pl.col("trace_id") + "-bad")
    bad.write_parquet(part.with_name("part-zz-wrong.parquet"))
    seen: list[Path] = []
    real = parquet.wrong_column_types

    def counting(path, table):
        if table == "traces":
            seen.append(Path(path))
        return real(path, table)

    monkeypatch.setattr(parquet, "wrong_column_types", counting)
    monkeypatch.setattr(tui.data, "wrong_column_types", counting)
    with pytest.warns(UserWarning, match="part-zz-wrong.parquet: column n_samples"):
        store = TraceStore(built.path)
    assert sorted(seen) == sorted(built.files("traces"))  # connect's check only, once per part
    assert store.open_warnings == [
        f"skipped part-zz-wrong.parquet: {real(part.with_name('part-zz-wrong.parquet'), 'traces')}"
    ]
    assert store.page().total == pl.read_parquet(part).height


def test_duplicate_ids_keep_the_first_row_and_warn_once_naming_the_files(built):
    part = built.files("traces")[0]
    copy = part.with_name("part-zz-copy.parquet")
    shutil.copy(part, copy)
    with pytest.warns(UserWarning) as got:
        store = TraceStore(built.path)
    mine = [str(w.message) for w in got if "appear more than once" in str(w.message)]
    assert len(mine) == 1 and "part-zz-copy.parquet" in mine[0] and part.name in mine[0]
    n = built.read("traces").height
    assert store.count() == store.page().total == store.stats().total == n
    ids = [r["trace_id"] for r in store.page(limit=1000).rows]
    assert len(ids) == len(set(ids)) == n
    assert store.open_warnings.count(mine[0]) == 1


@pytest.mark.parametrize(
    "err", [PermissionError(errno.EACCES, "Permission denied"), OSError(errno.ENOSPC, "No space left on device")]
)
def test_label_write_on_read_only_or_full_disk_is_one_line_and_loses_nothing(built, monkeypatch, err):
    import polars as pl

    from tui.data import LabelsError

    store = TraceStore(built.path)
    ids = [r["trace_id"] for r in store.page(limit=3).rows]
    store.set_label(ids[0], "keep")
    saved = built.table_path("labels").read_bytes()

    def refuse(self, *a, **k):
        raise err

    monkeypatch.setattr(pl.DataFrame, "write_parquet", refuse)
    with pytest.raises(LabelsError, match=err.strerror) as e:
        store.set_label(ids[1], "drop")
    assert "\n" not in str(e.value)
    assert built.table_path("labels").read_bytes() == saved  # the saved labels are untouched
    assert store.labels == {ids[0]: ("keep", "")}
    assert not [p for p in built.path.iterdir() if ".tmp" in p.name]  # no temp file left behind
    with pytest.raises(ValueError, match="not exported"):
        store.export_kept()
    monkeypatch.undo()
    import sfdata.store.lock as lock

    def no_lock(*a, **k):
        raise err

    monkeypatch.setattr(lock, "file_lock", no_lock)  # the lock file itself cannot be created
    with pytest.raises(LabelsError, match="untouched"):
        store.set_label(ids[1], "drop")
    monkeypatch.undo()
    store.set_label(ids[1], "drop")  # once the disk is back, labelling goes on
    assert pl.read_parquet(built.table_path("labels")).height == 2


def test_worker_cancels_a_heavy_where_and_reports_errors_in_one_line(built):
    import threading

    from tui.query_worker import QueryWorker

    store = TraceStore(built.path)
    worker = QueryWorker(store)
    try:
        heavy = Filters(where="(SELECT sum(hash(range)) FROM range(20000000000)) > 0")  # minutes of work
        started = threading.Event()

        def job(st):
            started.set()
            return st.page(heavy)

        fut = worker.submit(job)
        assert started.wait(30)
        while not worker.busy:  # pragma: no cover - the job has started; wait for its cursor
            pass
        threading.Timer(0.3, worker.cancel).start()
        res = fut.result(timeout=60)
        assert res.cancelled and res.value is None and res.error is None
        bad = worker.call(lambda st: st.count(Filters(where="CAST(final_answer AS INTEGER) > 3")))
        assert not bad.ok and "\n" not in bad.error and "Conversion Error" in bad.error
        ok = worker.call(lambda st: st.page().total)
        assert ok.ok and ok.value == store.count() > 0  # the store still answers after a cancel
    finally:
        worker.close()


def test_traces_replaced_under_an_open_store_give_one_line(built):
    """A concurrent `sf build --replace` swaps the parts: the next query answers or says so in one line."""
    from tui.query_worker import QueryWorker

    store = TraceStore(built.path)
    worker = QueryWorker(store)
    try:
        assert worker.call(lambda st: st.page()).ok
        for p in built.files("traces"):
            p.unlink()
        build_stage(built, BuildConfig(formats=("0C",), n=1, seed=5), replace=True)
        res = worker.call(lambda st: (st.page(), st.stats()))
        assert res.ok or ("\n" not in res.error and res.error)
        assert not res.ok  # the parts the store opened are gone: it says so rather than showing stale rows
    finally:
        worker.close()


def test_a_fork_reads_every_table_of_the_run_on_its_own_cursor(built):
    """The query worker's cursor sees the run's own tables (questions, rollouts, grades), not only the traces:
    a registration is per cursor, so the store shares `connect`'s Arrow sources with its forks."""
    from tui.trace_data import load_trace

    store = TraceStore(built.path)
    try:
        tid = store.page().rows[0]["trace_id"]
        fork = store.fork()
        data = load_trace(fork, tid)
        assert data.question is not None and data.question == store.question(data.trace["question_id"])
        assert data.src.height == len(data.trace["rollout_ids"]) and data.src["is_correct"].null_count() == 0
        assert fork.page(Filters(where="question IS NOT NULL")).total == store.count()
        fork.con.close()
    finally:
        store.close()


def test_open_checks_are_answered_from_the_cache_until_a_part_changes(built, monkeypatch):
    """The duplicate-id and skills-coverage scans run once per set of files (RUN/.index, by file identity):
    a reopen asks nothing, a copied part (duplicates) is seen at once."""
    from tui.open_checks import OpenChecks

    TraceStore(built.path).close()
    assert (built.path / ".index" / "traces.checks.json").is_file()

    def no_scan(*a, **kw):
        raise AssertionError("an open-time check ran again on unchanged files")

    monkeypatch.setattr(OpenChecks, "put", no_scan)
    n = built.read("traces").height
    store = TraceStore(built.path)
    assert store.duplicates_warning is None and store.count() == n
    store.close()
    monkeypatch.undo()
    part = built.files("traces")[0]
    shutil.copy(part, part.with_name("part-zz-copy.parquet"))
    with pytest.warns(UserWarning, match="appear more than once"):
        store = TraceStore(built.path)
    assert store.duplicates_warning is not None and store.count() == n
    store.close()
