"""Hub interchange: raw import (with bad rows), exports, card/folder build, push (autospec HfApi), pull."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import polars as pl
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.hub.export import curated_traces, export
from sfdata.hub.pull import pull
from sfdata.hub.push import HubError, build_folder, check_loads, push_folder
from sfdata.hub.raw import RESP, RawSchemaError, export_raw, import_raw
from sfdata.store import RunDir
from sfdata.synth import make_run

FIXTURE = Path(__file__).parents[2] / "fixtures" / "raw_countdown.jsonl"


@pytest.fixture(scope="module")
def built_run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("hub") / "run", n_questions=8, n=3, k=2, p_correct=0.5, seed=3)
    build_stage(run, BuildConfig(formats=("0C", "*C", "*C*IC"), n=3))
    return run


def test_import_fixture_reports_bad_rows_and_keeps_good_ones(tmp_path):
    res = import_raw(FIXTURE, tmp_path / "imp")
    assert res.rows == 7
    assert sorted(b.row for b in res.bad_rows) == [2, 3, 4, 5, 6]
    reasons = {b.row: b.reason for b in res.bad_rows}
    assert "flags" in reasons[2] and "countdown question" in reasons[3]
    assert "response 0 is empty" in reasons[4] and "missing answer" in reasons[5]
    assert "response 0 has unbalanced" in reasons[6]
    assert (res.questions, res.rollouts, res.reflections) == (3, 8, 8)
    assert res.grade_disagreements == 1  # the published flag called __import__(...) correct
    run = RunDir(tmp_path / "imp")
    g = run.read("grades").join(run.read("rollouts"), on="rollout_id")
    by_resp = dict(zip(g["response"], g["reason"]))
    assert by_resp["<answer>__import__('os').system('echo hi')</answer>"] == "illegal_token"
    assert g["is_correct"].sum() == 4
    refl = run.read("reflections")
    assert refl.filter(pl.col("text").str.contains("No answer"))["is_valid"].to_list() == [False]
    assert refl["is_valid"].sum() == 6  # the lowercase verdict on no-answer and the one on __import__ are wrong
    report = pl.read_parquet(tmp_path / "imp" / "import_report.parquet")
    assert report["row"].to_list() == [2, 3, 4, 5, 6]
    # re-import is a no-op: stable ids, no duplicates
    import_raw(FIXTURE, tmp_path / "imp")
    assert run.read("rollouts").height == 8 and run.read("questions").height == 3
    # the factory runs on imported data
    info = build_stage(run, BuildConfig(formats=("0C", "*C*IC"), n=2))
    assert info["traces"] >= 2


def test_import_missing_columns_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"question": ["q"], "prompt_variant": ["original"]}).write_parquet(bad)
    with pytest.raises(RawSchemaError, match=r"missing column\(s\) \['answer', 'model_responses__mutated_prompts'\]"):
        import_raw(bad, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_import_wrong_type_is_rejected(tmp_path):
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"question": ["q"], "answer": ["1"], RESP: ["not a list"]}).write_parquet(bad)
    with pytest.raises(RawSchemaError, match="must be a list"):
        import_raw(bad, tmp_path / "r")


def test_raw_export_writes_the_official_layout_and_round_trips_with_ids(built_run, tmp_path):
    from sfdata.app.cli.main import main

    raw = export_raw(built_run.path)
    assert raw.height == built_run.read("rollouts").height  # one row per sampled response
    assert set(raw[RESP].list.len().to_list()) == {1}
    assert raw[f"{RESP}_reflection"].list.len().sum() == built_run.read("reflections").height  # every reflection
    assert main(["export", str(built_run.path), "--to", "raw", "--out", str(tmp_path / "e")]) == 0
    f = tmp_path / "e" / "raw" / "train-00000.parquet"
    res = import_raw(f, tmp_path / "back")
    assert res.bad_rows == [] and res.grade_disagreements == 0 and res.layout.startswith("official")
    back = RunDir(tmp_path / "back")
    r_cols = ["rollout_id", "question_id", "variant", "sample_idx", "response", "model"]
    assert (
        back.read("rollouts")
        .select(r_cols)
        .sort("rollout_id")
        .equals(built_run.read("rollouts").select(r_cols).sort("rollout_id"))
    )
    g_cols = ["rollout_id", "question_id", "extracted_answer", "is_correct", "reason", "grader"]
    assert (
        back.read("grades")
        .select(g_cols)
        .sort("rollout_id")
        .equals(built_run.read("grades").select(g_cols).sort("rollout_id"))
    )
    f_cols = ["reflection_id", "rollout_id", "question_id", "text", "verdict", "is_valid"]
    assert (
        back.read("reflections")
        .select(f_cols)
        .sort("reflection_id")
        .equals(built_run.read("reflections").select(f_cols).sort("reflection_id"))
    )


def test_exports_have_the_published_shapes_and_respect_labels(built_run, tmp_path):
    traces = built_run.read("traces")
    drop = traces["trace_id"][0]
    from sfdata.store.run import now_utc

    built_run.write(
        "labels", pl.DataFrame({"trace_id": [drop], "label": ["drop"], "note": ["bad glue"], "updated_at": [now_utc()]})
    )
    try:
        (sft,) = export(built_run.path, "sft", tmp_path)
        df = pl.read_parquet(sft)
        assert df.height == traces.height - 1 and drop not in df["trace_id"].to_list()
        conv = df["conversations"][0].to_list()
        assert [m["role"] for m in conv] == ["user", "assistant"] and conv[1]["content"].startswith("<think>")
        (msgs,) = export(built_run.path, "messages", tmp_path)
        assert pl.read_parquet(msgs)["messages"][0].to_list()[0]["role"] == "user"
        data, info = export(built_run.path, "sharegpt", tmp_path, name="demo")
        rec = json.loads(data.read_text())[0]
        assert [t["from"] for t in rec["conversations"]] == ["human", "gpt"]
        assert json.loads(info.read_text())["demo"]["formatting"] == "sharegpt"
        verl, val, reward = export(built_run.path, "verl", tmp_path)
        assert reward.name == "reward.py" and pl.read_parquet(val).height >= 1
        v = pl.read_parquet(verl)
        assert {"data_source", "prompt", "ability", "reward_model", "extra_info"} <= set(v.columns)
        truth = json.loads(v["reward_model"][0]["ground_truth"])
        assert {"answer", "numbers", "target"} <= set(truth) and "witness" not in truth
    finally:
        (built_run.path / "labels.parquet").unlink()
    assert curated_traces(built_run.path).height == traces.height


def test_trl_sft_trainer_accepts_the_messages_export(built_run, tmp_path):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from tests.helpers import tiny_model_dir

    (msgs,) = export(built_run.path, "messages", tmp_path)
    ds = load_dataset("parquet", data_files=str(msgs), split="train")
    path = tiny_model_dir()
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(path),
        processing_class=AutoTokenizer.from_pretrained(path),
        train_dataset=ds,
        args=SFTConfig(
            output_dir=str(tmp_path / "o"),
            max_steps=1,
            per_device_train_batch_size=2,
            report_to=[],
            max_length=512,
            save_strategy="no",
            use_cpu=True,
            assistant_only_loss=False,
        ),
    )
    out = trainer.train()
    assert out.global_step == 1 and out.training_loss == out.training_loss  # finite, not NaN


def test_folder_builds_loads_and_pushes_in_one_commit(built_run, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    folder = tmp_path / "ds"
    counts = build_folder(built_run.path, folder, "me/sf-test")
    assert counts["sft_train"] == built_run.read("traces").height and counts["raw"] == 96 and counts["verl"] == 7
    card = (folder / "README.md").read_text()
    from huggingface_hub import DatasetCard

    data = DatasetCard(card).data
    assert data.license == "apache-2.0" and data.size_categories == ["n<1K"]
    assert [c["config_name"] for c in data.configs] == ["sft_train", "raw", "verl"]
    assert "| `*C*IC` |" in card  # format names in backticks: `*C*IC` must not render as italics
    assert "Source model: `synthetic`" in card
    assert check_loads(folder) == counts
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    api = mock.create_autospec(HfApi, instance=True)
    api.upload_folder.return_value = mock.Mock(commit_url="https://huggingface.co/datasets/me/sf-test/commit/abc")
    url = push_folder(folder, "me/sf-test", token="hf_x", api=api)
    assert url.endswith("/commit/abc")
    api.create_repo.assert_called_once_with(
        repo_id="me/sf-test", repo_type="dataset", private=False, exist_ok=True, token="hf_x"
    )
    api.upload_folder.assert_called_once()
    kw = api.upload_folder.call_args.kwargs
    assert kw["folder_path"] == str(folder) and kw["repo_type"] == "dataset" and kw["repo_id"] == "me/sf-test"


def test_push_without_token_or_network_fails_clearly_and_keeps_the_folder(built_run, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    folder = tmp_path / "ds"
    build_folder(built_run.path, folder, "me/x", configs=("sft_train",))
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with pytest.raises(HubError, match="offline"):
        push_folder(folder, "me/x", token="t")  # tests run with HF_HUB_OFFLINE=1
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no stored login
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(HubError, match="no Hugging Face token"):
        push_folder(folder, "me/x")
    api = mock.create_autospec(HfApi, instance=True)
    api.upload_folder.side_effect = ConnectionError("Failed to resolve huggingface.co")
    with pytest.raises(HubError, match="folder is kept"):
        push_folder(folder, "me/x", token="t", api=api)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_pull_sft_and_raw_configs_from_a_folder(built_run, tmp_path):
    folder = tmp_path / "ds"
    build_folder(built_run.path, folder, "me/sf")
    info = pull(folder, tmp_path / "p_sft", config="sft_train")
    n = built_run.read("traces").height
    assert info["kind"] == "sft" and info["traces"] == n
    t = RunDir(tmp_path / "p_sft").read("traces")
    assert t["is_correct"].sum() == built_run.read("traces")["is_correct"].sum()  # re-graded from the text
    assert pull(folder, tmp_path / "p_sft", config="sft_train")["traces"] == 0  # idempotent
    info = pull(folder, tmp_path / "p_raw", config="raw")
    assert info["kind"] == "raw" and info["rollouts"] == built_run.read("rollouts").height
    res = import_raw(folder, tmp_path / "i_raw")  # a pushed folder: its raw config, never the SFT one
    assert res.rollouts == built_run.read("rollouts").height and res.layout.startswith("official")


def test_cli_import_export_push_dry_run(built_run, tmp_path, capsys):
    from sfdata.app.cli.main import main

    assert main(["import", str(FIXTURE), "--run", str(tmp_path / "c")]) == 0
    assert "bad" in capsys.readouterr().out
    assert main(["export", str(built_run.path), "--to", "sft", "verl", "--out", str(tmp_path / "e")]) == 0
    assert (tmp_path / "e" / "sft_train" / "train-00000.parquet").is_file()
    assert main(["push", str(built_run.path), "me/sf", "--dry-run", "--folder", str(tmp_path / "f")]) == 0
    assert "loads with datasets" in capsys.readouterr().out
    assert main(["push", str(built_run.path), "me/sf", "--folder", str(tmp_path / "f")]) == 2  # offline in tests


def test_pull_reports_bad_sft_rows_by_id(tmp_path):
    conv = [
        [
            {"role": "user", "content": "Use the numbers [3, 5, 7] to make 22."},
            {
                "role": "assistant",
                "content": "<think><sample>3 * 5 + 7<answer>3 * 5 + 7</answer></sample></think><answer>3 * 5 + 7</answer>",
            },
        ],
        [{"role": "user", "content": "Use the numbers [3, 5, 7] to make 22."}],
        [
            {"role": "user", "content": "Use the numbers [3, 5, 7] to make 22."},
            {
                "role": "assistant",
                "content": "<think><sample>open <answer>3 + 5 + 7</answer></think><answer>3 + 5 + 7</answer>",
            },
        ],
    ]
    f = tmp_path / "sft.parquet"
    pl.DataFrame({"conversations": conv}).write_parquet(f)
    info = pull(f, tmp_path / "run")
    assert info["traces"] == 2 and [b["row"] for b in info["bad"]] == [1, 2]
    assert "no user or no assistant" in info["bad"][0]["reason"] and "unbalanced" in info["bad"][1]["reason"]
    t = RunDir(tmp_path / "run").read("traces").sort("is_correct")
    assert t["is_correct"].to_list() == [False, True]
