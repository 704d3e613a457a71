"""The stage runtime is honest: "done already" only while the outputs are there as recorded, and a copied
run (new inodes and mtimes) keeps its stages done."""

from __future__ import annotations

import shutil

import pytest

from sfdata.app.cli.main import main
from sfdata.factory.build import BuildConfig
from sfdata.stage_runtime import DATA_STAGES, run_stage
from sfdata.store import RunDir
from sfdata.synth import make_run

BUILD = DATA_STAGES["build"]


def _built(tmp_path, chunk=4):
    run = make_run(tmp_path / "run", n_questions=4, n=2, k=1, p_correct=0.6)
    cfg = BuildConfig(formats=("0C", "*C"), n=2, chunk=chunk)
    info = run_stage(run, BUILD, cfg)
    assert info["traces"] > chunk  # several part files
    return run, cfg


def test_a_deleted_traces_part_makes_build_run_again_and_refill(tmp_path):
    run, cfg = _built(tmp_path)
    want = run.read("traces").height
    assert run_stage(run, BUILD, cfg) == {"skipped": True}
    run.files("traces")[0].unlink()
    assert run.read("traces").height < want
    info = run_stage(run, BUILD, cfg)
    assert info.get("skipped") is not True and info["written"] > 0
    assert run.read("traces").height == want
    assert run_stage(run, BUILD, cfg) == {"skipped": True}  # done again, honestly


def test_sf_build_says_why_a_done_build_runs_again(tmp_path, capsys):
    run, cfg = _built(tmp_path)
    gone = run.files("traces")[0]
    gone.unlink()
    args = ["build", str(run.path), "--formats", "0C", "*C", "--n", "2", "--chunk", "4"]
    assert main(args) == 0
    assert f"traces/{gone.name} is missing: running again" in capsys.readouterr().out
    assert main(args) == 0
    assert "done already" in capsys.readouterr().out


def test_a_rewritten_output_file_is_not_done(tmp_path):
    run, cfg = _built(tmp_path)
    import polars as pl

    from sfdata.store.parquet import write_parquet_atomic

    want = run.read("traces").height
    part = run.files("traces")[-1]
    write_parquet_atomic(pl.read_parquet(part).head(1), part)  # same name, fewer rows
    info = run_stage(run, BUILD, cfg)
    assert info.get("skipped") is not True and run.read("traces").height == want


def test_a_copied_run_keeps_its_stages_done_and_a_changed_input_reruns(tmp_path):
    run, cfg = _built(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy, copy_function=shutil.copy)  # no metadata: new mtimes and inodes
    moved = RunDir(copy)
    assert run_stage(moved, BUILD, cfg) == {"skipped": True}
    refl = moved.read("reflections")
    for p in moved.files("reflections"):
        p.unlink()
    moved.append("reflections", refl.head(refl.height - 1))  # one input part changed
    assert run_stage(moved, BUILD, cfg).get("skipped") is not True


def test_replace_with_a_bad_chunk_is_refused_before_any_work(tmp_path, capsys):
    run, _ = _built(tmp_path)
    before = sorted(p.name for p in run.files("traces"))
    rows = run.read("traces").height
    assert main(["build", str(run.path), "--replace", "--chunk", "-1"]) == 1
    err = capsys.readouterr().err
    assert "chunk (--chunk) must be >= 1, got -1" in err
    assert sorted(p.name for p in run.files("traces")) == before and run.read("traces").height == rows


@pytest.mark.parametrize(
    "make",
    [
        lambda: BuildConfig(chunk=0),
        lambda: BuildConfig(workers=-1),
        lambda: BuildConfig(repeats=0),
    ],
)
def test_bad_numbers_fail_when_the_config_is_made(make):
    with pytest.raises(ValueError, match="must be"):
        make()


def test_every_numeric_option_of_the_generating_stages_is_bounded():
    from sfdata.generate import GenerateConfig
    from sfdata.questions import QuestionsConfig
    from sfdata.reflect import ReflectConfig
    from sftrain.eval import EvalConfig
    from sftrain.rl import RLRunConfig

    for cls, field, bad in [
        (RLRunConfig, "n_questions", 0),
        (RLRunConfig, "level", 0),
        (GenerateConfig, "chunk", 0),
        (GenerateConfig, "top_p", 0.0),
        (GenerateConfig, "batch_size", 0),
        (GenerateConfig, "temperature", -0.1),
        (ReflectConfig, "k", 0),
        (QuestionsConfig, "n", -3),
        (EvalConfig, "samples", 0),
        (EvalConfig, "n_questions", 0),
        (EvalConfig, "chunk", 0),
    ]:
        with pytest.raises(ValueError, match=f"{field} .* must be"):
            cls(**{field: bad})


def test_an_entry_from_the_older_runtime_is_accepted_once_and_upgraded(tmp_path):
    from sfdata.stage_runtime import _legacy_fingerprint
    from sfdata.stagecfg import config_hash

    run, cfg = _built(tmp_path)
    reads = tuple(r for r in BUILD.reads if r not in BUILD.writes)
    m = run.manifest()
    m["stages"]["build"] = {
        "status": "done",
        "config_hash": config_hash(cfg),
        "inputs": _legacy_fingerprint(run, reads),
    }
    run._write_manifest(m)
    assert run_stage(run, BUILD, cfg) == {"skipped": True}  # no rebuild (or retrain) just for upgrading
    entry = run.manifest()["stages"]["build"]
    assert entry["outputs"] and entry["config_hash"] == config_hash(cfg, root=run.path)
    assert run_stage(run, BUILD, cfg) == {"skipped": True}
