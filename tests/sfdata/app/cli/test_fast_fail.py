"""Mistyped local paths fail at once with "no such file or folder"; a Hub id with the Hub out of
reach is one line, without the libraries' retries (they are made to fail loudly if reached)."""

from __future__ import annotations

import pytest

from sfdata.app.cli.main import main


@pytest.fixture
def no_hub(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the Hub libraries must not be reached for this input")

    monkeypatch.setattr("datasets.load_dataset", boom)
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", boom)
    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", boom)


@pytest.mark.parametrize(
    "argv",
    [
        ["inspect", "./no_such_run"],
        ["inspect", "data/missing.parquet"],
        ["import", "raw.jsonl", "--run", "{tmp}/r"],
        ["import", "./RAW", "--run", "{tmp}/r"],
        ["pull", "{tmp}/nothing/here", "--run", "{tmp}/r"],
        ["eval", "--model", "./checkpoints/sft", "--run", "{tmp}/e"],
        ["eval", "--model", "{tmp}/model", "--run", "{tmp}/e"],
        ["rl", "--model", "models_dir/sftt"],
    ],
)
def test_local_looking_paths_fail_at_once(argv, tmp_path, monkeypatch, capsys, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models_dir").mkdir()  # `models_dir/sftt` is a typo of a local folder, not a Hub id
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "no such" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "SkillFactory/RAW_DATA-countdown3args-Qwen2.5-1.5B-Instruct", "--run", "{tmp}/r"],
        ["pull", "SkillFactory/SFT_DATA-cd3args-main-Qwen2.5-1.5B-Instruct-SkillFactory", "--run", "{tmp}/r"],
        ["rl", "--model", "Qwen/Qwen2.5-1.5B-Instruct"],
        ["eval", "--model", "Qwen/Qwen2.5-1.5B-Instruct", "--run", "{tmp}/e"],
    ],
)
def test_a_hub_id_with_the_hub_out_of_reach_is_one_clear_line(argv, tmp_path, monkeypatch, capsys, no_hub):
    import socket

    def unreachable(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(socket, "create_connection", unreachable)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be reached" in err and "HF_HUB_OFFLINE=1" in err
