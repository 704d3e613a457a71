"""`sf sft` trains on every output we write: each is read by sftrain.data and handed to TRL's own
dataset preparation (SFTTrainer with completion_only_loss), exactly as `sf sft` does."""

from __future__ import annotations

import polars as pl
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.hub.export import export
from sfdata.hub.push import build_folder
from sfdata.synth import make_run
from sftrain.data import load_sft_rows


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sftsrc")
    run = make_run(root / "run", n_questions=4, n=2, k=2, p_correct=0.5, seed=7)
    build_stage(run, BuildConfig(formats=("0C", "*C"), n=2))
    exports = run.path / "exports"
    for fmt in ("sft", "raw", "verl", "prompt_completion"):
        export(run.path, fmt, exports)
    sharegpt, _ = export(run.path, "sharegpt", exports, name="demo")
    traces = run.read("traces")
    from sfdata.store.parquet import write_parquet_atomic

    kept = write_parquet_atomic(traces, exports / "kept.parquet")  # what the inspector's export writes
    folder = root / "pushed"
    build_folder(run.path, folder, "me/x", configs=("sft_train", "raw", "verl", "sharegpt"))
    return {
        "run": run,
        "n": traces.height,
        "sources": {
            "pushed folder": folder,
            "exports folder": exports,
            "sharegpt file": sharegpt,
            "kept.parquet": kept,
            "traces part": sorted((run.path / "traces").glob("part-*.parquet"))[0],
            "prompt_completion": exports / "prompt_completion" / "train-00000.parquet",
        },
    }


@pytest.mark.parametrize(
    "name", ["pushed folder", "exports folder", "sharegpt file", "kept.parquet", "traces part", "prompt_completion"]
)
def test_every_export_goes_through_trl_dataset_preparation(outputs, name, tmp_path):
    from sftrain.sft import SFTRunConfig, build_sft_trainer
    from tests.helpers import tiny_model_dir

    src = outputs["sources"][name]
    rows = load_sft_rows(src)
    traces = set(outputs["run"].read("traces")["trace"].to_list())
    assert {r["completion"][0]["content"] for r in rows} <= traces  # only SFT rows, never raw/ or verl/ rows
    if name != "traces part":
        assert len(rows) == outputs["n"]
    cfg = SFTRunConfig(
        data=str(src), model=str(tiny_model_dir()), output_dir=str(tmp_path / "o"), overrides={"max_steps": 1}
    )
    trainer, tok, facts = build_sft_trainer(cfg, log=lambda *_: None)
    ex = trainer.train_dataset[0]
    trained = [t for t in ex["labels"] if t != -100]  # TRL's labels: the prompt is masked out
    assert 0 < len(trained) < len(ex["input_ids"])
    completion = tok.decode(trained)
    assert "<answer>" in completion and facts["examples"] == len(rows)


def test_a_folder_with_several_kinds_of_data_and_no_config_is_refused(outputs, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    pl.read_parquet(outputs["sources"]["kept.parquet"]).write_parquet(folder / "a.parquet")
    (folder / "b.json").write_text(outputs["sources"]["sharegpt file"].read_text())
    with pytest.raises(ValueError, match="several kinds of data"):
        load_sft_rows(folder, config=None)


def test_bad_sft_rows_are_skipped_and_an_all_bad_file_is_one_error_naming_it(tmp_path):
    from sftrain.data import rows_from_frame

    good = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert rows_from_frame(pl.DataFrame({"conversations": ["hello", "x"]})) == []
    frame = pl.DataFrame({"conversations": [[None, {"role": "x"}], good]}, strict=False)
    assert len(rows_from_frame(frame)) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversations": "hello"}\n{"conversations": "again"}\n')
    with pytest.raises(ValueError, match="bad.jsonl: no usable conversations"):
        load_sft_rows(bad)
