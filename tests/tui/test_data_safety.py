"""The inspector's store under attack: two inspectors saving labels, an unreadable labels file, hostile WHERE text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.store import RunDir
from sfdata.synth import make_run
from tui.app import InspectorApp
from tui.data import FilterError, Filters, LabelsError, TraceStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def run(tmp_path):
    r = make_run(tmp_path / "run", n_questions=6, n=3, k=2, p_correct=0.5, seed=7)
    build_stage(r, BuildConfig(formats=("0C", "*C", "random"), n=3))
    return r


def test_two_inspectors_keep_each_others_labels(run):
    ids = run.read("traces")["trace_id"].to_list()
    a, b = TraceStore(run.path), TraceStore(run.path)  # both opened before either saved
    for t in ids[:5]:
        a.set_label(t, "keep")
    for t in ids[5:10]:
        b.set_label(t, "drop", "b's note")
    a.set_label(ids[0], "drop")
    got = dict(RunDir(run.path).read("labels").select("trace_id", "label").iter_rows())
    assert got == {**{t: "keep" for t in ids[1:5]}, ids[0]: "drop", **{t: "drop" for t in ids[5:10]}}
    assert a.labels[ids[7]] == ("drop", "b's note")  # a's memory picked up b's labels on save


def test_two_inspector_processes_saving_at_once_lose_nothing(run):
    ids = run.read("traces")["trace_id"].to_list()[:40]
    code = (
        "import sys\nfrom tui.data import TraceStore\ns=TraceStore(sys.argv[1])\n"
        "for t in sys.argv[3:]: s.set_label(t, sys.argv[2])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(run.path), lab, *part], cwd=ROOT, env=env)
        for lab, part in (("keep", ids[::2]), ("drop", ids[1::2]))
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    got = dict(RunDir(run.path).read("labels").select("trace_id", "label").iter_rows())
    assert got == {t: "keep" if i % 2 == 0 else "drop" for i, t in enumerate(ids)}


def test_unreadable_labels_file_stops_saving_and_is_never_overwritten(run):
    ids = run.read("traces")["trace_id"].to_list()
    path = run.table_path("labels")
    pl.DataFrame({"trace_id": ids, "label": ["keep"] * len(ids)}).write_parquet(path)  # no note/updated_at
    before = path.read_bytes()
    store = TraceStore(run.path)
    assert store.labels_error and str(path) in store.labels_error
    with pytest.raises(LabelsError, match="labels not saved"):
        store.set_label(ids[0], "drop")
    assert path.read_bytes() == before


async def test_inspector_shows_why_labels_are_not_saved(run):
    path = run.table_path("labels")
    path.write_bytes(b"not parquet at all")
    app = InspectorApp(run.path)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("k")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("labels not saved" in m and str(path) in m for m in messages), messages
    assert path.read_bytes() == b"not parquet at all"


@pytest.mark.parametrize(
    "where",
    [
        "1=1) OR (1=1",
        "format = '0C') OR (1=1",
        "1=1 -- ",
        "1=1 /* x */",
        "1=1; SELECT 1",
        "(1=1",
        "is_correct) OR NOT (is_correct",
    ],
)
def test_where_box_cannot_escape_its_parentheses(run, where):
    store = TraceStore(run.path)
    with pytest.raises(FilterError, match="one boolean expression|unclosed"):
        store.count(Filters(format="no-such-format", where=where))


def test_where_box_cannot_read_files(run):
    store = TraceStore(run.path)
    for where in (
        "trace_id IN (SELECT content FROM read_text('/etc/hostname'))",
        "format = (SELECT content FROM read_text('/etc/hostname'))",
        "trace_id IN (SELECT column0 FROM read_csv('/etc/passwd'))",
    ):
        with pytest.raises(FilterError) as e:
            store.count(Filters(where=where))
        assert "disabled" in str(e.value) or "Permission" in str(e.value)
        hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").is_file() else ""
        assert not hostname or hostname not in str(e.value)


def test_where_box_still_takes_real_expressions(run):
    store = TraceStore(run.path)
    traces = run.read("traces")
    assert (
        store.count(Filters(where="(n_samples >= 2) OR (format = '0C')"))
        == traces.filter((pl.col("n_samples") >= 2) | (pl.col("format") == "0C")).height
    )
    assert (
        store.count(Filters(where="format = 'a)b(' OR NOT is_correct")) == traces.filter(~pl.col("is_correct")).height
    )
