"""Exports fed to their consumers: the published SFT schema (datasets), verl's reward call, and
push/export never writing or deleting outside what they made."""

from __future__ import annotations

import importlib.util
import json

import polars as pl
import pytest

from sfdata.factory.build import BuildConfig, build_stage
from sfdata.hub.export import export
from sfdata.hub.push import build_folder
from sfdata.synth import make_run


@pytest.fixture(scope="module")
def built_run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("exp") / "run", n_questions=6, n=2, k=2, p_correct=0.5, seed=5)
    build_stage(run, BuildConfig(formats=("0C", "*C"), n=2))
    return run


def test_sft_export_has_the_published_arrow_types_and_concatenates_with_a_published_set(built_run, tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    (sft,) = export(built_run.path, "sft", tmp_path)
    conv_type = pq.read_schema(sft).field("conversations").type
    assert conv_type == pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    # a fixture in the published schema: conversations + optional sft_template_type_idx, plain types
    published = pa.table(
        {
            "conversations": pa.array(
                [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "<answer>1</answer>"}]],
                type=conv_type,
            ),
            "sft_template_type_idx": pa.array([0], type=pa.int64()),
        }
    )
    pq.write_table(published, tmp_path / "published.parquet")
    ours = datasets.load_dataset("parquet", data_files=str(sft), split="train").select_columns(["conversations"])
    theirs = datasets.load_dataset("parquet", data_files=str(tmp_path / "published.parquet"), split="train")
    both = datasets.concatenate_datasets([ours, theirs.select_columns(["conversations"])])
    assert both.num_rows == ours.num_rows + 1 and both[-1]["conversations"][1]["content"] == "<answer>1</answer>"


def _load_reward(path):
    """What verl's get_custom_reward_fn does: import the file by path, take `compute_score`."""
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute_score


def test_verl_reward_file_scores_every_exported_task_the_way_the_reward_manager_calls_it(built_run, tmp_path):
    train, val, reward = export(built_run.path, "verl", tmp_path)
    compute_score = _load_reward(reward)
    rows = pl.concat([pl.read_parquet(train), pl.read_parquet(val)])
    assert rows.height == built_run.read("questions").height
    assert set(rows["extra_info"].struct.field("question_id")).isdisjoint(
        set(pl.read_parquet(train)["extra_info"].struct.field("question_id"))
        & set(pl.read_parquet(val)["extra_info"].struct.field("question_id"))
    )
    witness = {r["question_id"]: json.loads(r["data"])["witness"] for r in built_run.read("questions").to_dicts()}
    for row in rows.to_dicts():
        extra = row["extra_info"]
        # NaiveRewardManager: compute_score(data_source=, solution_str=, ground_truth=, extra_info=)
        kwargs = dict(
            data_source=row["data_source"], ground_truth=row["reward_model"]["ground_truth"], extra_info=extra
        )
        good = f"<think>...</think>\n<answer>{witness[extra['question_id']]}</answer>"
        assert compute_score(solution_str=good, **kwargs) == 1.0
        assert compute_score(solution_str="<answer>1 + 1</answer>", **kwargs) == 0.0
        assert compute_score(solution_str="no answer", **kwargs) == 0.0


def test_verl_reward_grades_multiplication_too(tmp_path):
    from sfdata.hub.verl_reward import compute_score

    truth = json.dumps({"answer": "391", "a": 17, "b": 23})
    assert compute_score("skillfactory/multiplication", "<answer>391</answer>", truth, {"level": 2}) == 1.0
    assert compute_score("skillfactory/multiplication", "<answer>390</answer>", truth, {"level": 2}) == 0.0


def test_export_name_must_be_a_plain_file_name(built_run, tmp_path):
    from sfdata.app.cli.main import main

    for bad in ("../../x", "a/b", "..", "/etc/x"):
        with pytest.raises(ValueError, match="plain file name"):
            export(built_run.path, "sharegpt", tmp_path / "out", name=bad)
    assert main(["export", str(built_run.path), "--to", "sharegpt", "--out", str(tmp_path / "o"), "--name", "../x"])
    assert not (tmp_path / "x_sharegpt.json").exists()


def test_push_folder_never_deletes_what_it_did_not_make(built_run, tmp_path):
    from sfdata.app.cli.main import main

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    for folder in (precious, built_run.path, built_run.path.parent):
        with pytest.raises(ValueError, match="refusing|run directory"):
            build_folder(built_run.path, folder, "me/x", configs=("sft_train",))
        assert main(["push", str(built_run.path), "me/x", "--dry-run", "--folder", str(folder)]) != 0
    assert (precious / "thesis.tex").read_text() == "years of work" and (built_run.path / "manifest.json").is_file()
    # a repo id like `me/` would have made the default folder RUN/hub itself
    (built_run.path / "hub" / "other").mkdir(parents=True, exist_ok=True)
    assert main(["push", str(built_run.path), "me/", "--dry-run"]) != 0
    assert (built_run.path / "hub" / "other").is_dir()
    # a folder this command made is replaced (rebuilt) without complaint
    out = tmp_path / "ds"
    build_folder(built_run.path, out, "me/x", configs=("sft_train", "sharegpt"))
    assert build_folder(built_run.path, out, "me/x", configs=("sft_train", "sharegpt"))["sharegpt"] > 0


def test_pushed_folder_with_sharegpt_config_loads_every_config(built_run, tmp_path):
    from sfdata.hub.card import card_configs
    from sfdata.hub.push import check_loads

    out = tmp_path / "ds"
    counts = build_folder(built_run.path, out, "me/x", configs=("sft_train", "sharegpt", "prompt_completion", "verl"))
    assert list(card_configs(out)) == ["sft_train", "sharegpt", "prompt_completion", "verl"]
    assert check_loads(out) == counts


def test_card_metadata_is_valid_and_snippets_work_as_pasted(tmp_path):
    import re
    import shutil

    import datasets
    from huggingface_hub import DatasetCard

    from sfdata.hub.card import check_license, size_category
    from sfdata.hub.raw import import_raw
    from sfdata.store import RunDir

    assert [size_category(n) for n in (0, 999, 1000, 2_000_000)] == ["n<1K", "n<1K", "1K<n<10K", "1M<n<10M"]
    with pytest.raises(ValueError, match="not a Hub license id"):
        check_license("MIT; rm -rf")
    # an imported run: the card names the model that sampled it, not our default
    src = tmp_path / "RAW_DATA-countdown3args-Qwen2.5-1.5B-Instruct.jsonl"
    shutil.copy(__import__("pathlib").Path(__file__).parents[2] / "fixtures" / "raw_official_layout.jsonl", src)
    import_raw(src, tmp_path / "run")
    run = RunDir(tmp_path / "run")
    build_stage(run, BuildConfig(formats=("0C",), n=1))
    folder = tmp_path / "ds"
    build_folder(run.path, folder, "me/cd", configs=("sft_train", "verl"))
    card = DatasetCard.load(folder / "README.md")
    assert "Source model: `Qwen2.5-1.5B-Instruct`" in card.text
    # LLaMA-Factory: the entry names a config the folder has, and its columns/tags match the data
    entry = json.loads(re.search(r"```json\n(.*?)```", card.text, re.S).group(1))["skillfactory"]
    assert entry["subset"] in [c["config_name"] for c in card.data.configs]
    ds = datasets.load_dataset(str(folder), entry["subset"], split=entry["split"])
    msgs = ds[0][entry["columns"]["messages"]]
    tags = entry["tags"]
    assert [m[tags["role_tag"]] for m in msgs] == [tags["user_tag"], tags["assistant_tag"]]
    assert msgs[1][tags["content_tag"]].startswith("<think>")
    # verl: every path in the command exists after the download it shows (files under sf_data/)
    bash = re.search(r"```bash\n(.*?)```", card.text, re.S).group(1)
    for path in re.findall(r"sf_data/(\S+)", bash):
        assert (folder / path).is_file(), path


def test_token_comes_from_huggingface_hub(monkeypatch):
    from sfdata.hub.push import resolve_token

    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_from_login")
    assert resolve_token() == "hf_from_login" and resolve_token("hf_flag") == "hf_flag"


def test_pushed_verl_config_declares_its_validation_split(built_run, tmp_path):
    import datasets

    from sfdata.hub.card import card_configs
    from sfdata.hub.readers import folder_files

    out = tmp_path / "ds"
    counts = build_folder(built_run.path, out, "me/x", configs=("sft_train", "verl"))
    val_rows = pl.read_parquet(out / "verl" / "val.parquet").height
    assert val_rows > 0
    dd = datasets.load_dataset(str(out), "verl")  # what verl users do with the Hub copy: both splits
    assert set(dd) == {"train", "validation"}
    assert dd["train"].num_rows == counts["verl"] and dd["validation"].num_rows == val_rows
    # readers of one split never mix in the other
    assert card_configs(out, "train")["verl"] == ["verl/train.parquet"]
    assert [f.name for f in folder_files(out, "verl", "validation")] == ["val.parquet"]
    assert [f.name for f in folder_files(out, "verl", "train")] == ["train.parquet"]


def test_readme_and_card_show_the_verl_command_verl_reads():
    """verl 0.9 reads reward.custom_reward_function.*; the README block is the one text the card shows."""
    from pathlib import Path

    from sfdata.hub.card import _snippets
    from sfdata.hub.export import verl_command

    cmd = verl_command("exports/verl")
    assert "reward.custom_reward_function.path=exports/verl/reward.py" in cmd
    assert " custom_reward_function." not in cmd  # the top-level keys verl 0.9 ignores
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert cmd in readme
    assert verl_command("sf_data/verl") in _snippets("me/x", {"verl": "verl"})
