"""Which traces `sf sft` reads from a run: the official default mix of the main set unless told otherwise."""

from __future__ import annotations

import pytest

from sfdata.factory.build import DEFAULT_FORMATS, BuildConfig, build_stage
from sfdata.synth import make_run
from sftrain.data import load_sft_rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("sel") / "r", n_questions=6, n=3, k=2, p_correct=0.5, seed=4)
    build_stage(run, BuildConfig(formats=DEFAULT_FORMATS, n=3))
    build_stage(run, BuildConfig(formats=("*C", "*C*IC"), n=3, ablation="no_reflections"))
    build_stage(run, BuildConfig(formats=("star",), n=1))
    return run


def _traces(rows):
    return {r["completion"][0]["content"] for r in rows}


def test_sft_reads_the_default_mix_and_never_an_ablation_build(run):
    t = run.read("traces")

    def texts(mask):
        return set(t.filter(mask)["trace"])

    import polars as pl

    main = pl.col("ablation").is_null()
    default = texts(main & pl.col("format").is_in(["0C", "*C", "*C*IC", "*CC"]))
    assert _traces(load_sft_rows(run.path)) == default
    ablated = texts(pl.col("ablation") == "no_reflections")
    assert ablated and not ablated & _traces(load_sft_rows(run.path))
    recipe = _traces(load_sft_rows(run.path, formats=("0C", "*C", "*C*IC", "*CC", "*C_full")))
    assert recipe == default | texts(main & (pl.col("format") == "*C_full"))
    assert _traces(load_sft_rows(run.path, formats=("no_reflections",))) == ablated
    assert _traces(load_sft_rows(run.path, formats=("star",))) == texts(pl.col("format") == "star")
    assert _traces(load_sft_rows(run.path, formats=("random",))) == texts(pl.col("format") == "random")


def test_a_run_without_the_default_formats_says_what_it_has(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1, p_correct=0.5, seed=1)
    build_stage(run, BuildConfig(formats=("random",), n=2))
    with pytest.raises(ValueError, match=r"random/random: \d+.*--formats"):
        load_sft_rows(run.path)
    assert load_sft_rows(run.path, formats=("random",))
