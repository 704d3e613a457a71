"""Trace purposes: builds tag each trace with the set it belongs to; older parts read back with it derived."""

from __future__ import annotations

import polars as pl
import pytest

from sfdata.factory.build import DEFAULT_FORMATS, BuildConfig, build_stage
from sfdata.factory.mix import SFT_DEFAULT_FORMATS, purpose_of, select_traces, selection
from sfdata.synth import make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("mix") / "r", n_questions=8, n=3, k=2, p_correct=0.5, seed=3)
    build_stage(run, BuildConfig(formats=(*DEFAULT_FORMATS, "star"), n=3))
    build_stage(run, BuildConfig(formats=("*C", "*CC"), n=3, ablation="no_sample_order"))
    return run


def test_builds_tag_every_trace_with_its_purpose(run):
    t = run.read("traces")
    assert t["purpose"].null_count() == 0
    pairs = set(t.select("format", "ablation", "purpose").iter_rows())
    for fmt, abl, purpose in pairs:
        assert purpose == purpose_of(fmt, abl)
    by = dict(t.group_by("purpose").agg(pl.col("format").unique().sort()).iter_rows())
    assert set(by) == {"main", "random", "no_reflection", "star", "no_sample_order"}
    assert by["main"] == sorted(["0C", "*C", "*C_full", "*C*IC", "*CC"])
    assert by["no_sample_order"] == ["*C", "*CC"]  # an ablation build is its own set, whatever its formats


def test_default_selection_is_the_official_mix_of_the_main_set(run):
    t = run.read("traces")
    chosen = select_traces(t)
    assert set(chosen["format"]) == set(SFT_DEFAULT_FORMATS)
    assert set(chosen["purpose"]) == {"main"} and chosen["ablation"].null_count() == chosen.height
    main = t.filter(pl.col("ablation").is_null() & pl.col("format").is_in(list(SFT_DEFAULT_FORMATS)))
    assert chosen.height == main.height
    full = select_traces(t, [*SFT_DEFAULT_FORMATS, "*C_full"])  # the released recipe asks for *C_full
    assert set(full["format"]) == {*SFT_DEFAULT_FORMATS, "*C_full"} and set(full["purpose"]) == {"main"}
    abl = select_traces(t, ["no_sample_order"])
    assert set(abl["purpose"]) == {"no_sample_order"} and set(abl["format"]) == {"*C", "*CC"}
    assert set(select_traces(t, ["no_sample_order", "*CC"])["format"]) == {"*CC"}
    assert set(select_traces(t, ["star"])["purpose"]) == {"star"}
    assert set(select_traces(t, ["*C", "random"])["purpose"]) == {"main", "random"}
    with pytest.raises(ValueError, match="unknown trace format or set"):
        selection(["no_such_set"])


def test_parts_written_before_the_purpose_column_still_read(run, tmp_path):
    """An older run's parts lack `purpose`: Polars and DuckDB reads fill nulls, selection derives it."""
    from sfdata.store import RunDir
    from sfdata.store.duck import connect

    old = RunDir(tmp_path / "old").init({"test": True})
    t = run.read("traces").drop("purpose")
    folder = old.table_path("traces")
    folder.mkdir(parents=True, exist_ok=True)
    t.write_parquet(folder / "part-old.parquet")
    back = old.read("traces")
    assert back["purpose"].null_count() == back.height == t.height
    assert select_traces(back).height == select_traces(run.read("traces")).height
    con = connect(old)
    assert con.sql("SELECT count(*) FROM traces WHERE purpose IS NULL").fetchall()[0][0] == t.height
