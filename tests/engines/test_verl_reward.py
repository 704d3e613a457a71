"""The README's verl command, through verl's own code: the trainer config composed from verl's files with the
documented overrides, the custom reward function loaded by verl, and rows scored by verl's reward manager."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

pytestmark = pytest.mark.engines


def _verl_config(overrides: list[str]):
    """What `python -m verl.trainer.main_ppo OVERRIDES` builds: Hydra composes verl's ppo_trainer.yaml."""
    pytest.importorskip("verl", reason="the engines venv (make engines-setup) has verl")
    import importlib.util

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    # main_ppo's @hydra.main(config_path="config", config_name="ppo_trainer"), next to verl/trainer/main_ppo.py
    config_dir = Path(importlib.util.find_spec("verl.trainer.main_ppo").origin).parent / "config"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def _documented_overrides(folder: Path) -> list[str]:
    """The overrides of the README / dataset-card command for an export in `folder` (minus the model)."""
    from sfdata.hub.export import verl_command

    words = shlex.split(verl_command(str(folder)).replace("\\\n", " "))
    assert words[:3] == ["python", "-m", "verl.trainer.main_ppo"]
    return [w for w in words[3:] if not w.startswith("actor_rollout_ref.model.path=")]


def _rows(folder: Path) -> list[tuple[dict, str, float]]:
    """Exported verl rows (countdown), each with a correct response (the question's witness) and a wrong one."""
    import polars as pl

    from sfdata.hub.export import write_verl
    from sfdata.store import RunDir
    from sfdata.tasks import make_questions

    run = RunDir(folder.parent / "run").init()
    questions = make_questions("countdown", 3, 0, level=3)
    run.write("questions", questions)
    write_verl(run.path, folder)
    witness = {r["question_id"]: json.loads(r["data"])["witness"] for r in questions.to_dicts()}
    df = pl.concat([pl.read_parquet(folder / "train.parquet"), pl.read_parquet(folder / "val.parquet")])
    out = []
    for r in df.iter_rows(named=True):
        good = f"<think>\nwork\n</think>\n<answer>{witness[r['extra_info']['question_id']]}</answer>"
        out += [(r, good, 1.0), (r, "<think>\nguess\n</think>\n<answer>1 + 1</answer>", 0.0)]
    return out


def _score(config, tokenizer, rows: list[tuple[dict, str, float]]) -> list[float]:
    """Score (row, response) pairs with verl's reward manager, built by verl's load_reward_manager."""
    import numpy as np
    import torch
    from verl import DataProto
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(config, tokenizer)
    scores = []
    for row, response, _ in rows:
        ids = tokenizer(response, add_special_tokens=False, return_tensors="pt")["input_ids"]
        prompt = torch.tensor([[tokenizer.pad_token_id or 0]])
        data = DataProto.from_dict(
            tensors={
                "prompts": prompt,
                "responses": ids,
                "attention_mask": torch.ones(1, prompt.shape[1] + ids.shape[1], dtype=torch.long),
            },
            non_tensors={
                "data_source": np.array([row["data_source"]], dtype=object),
                "reward_model": np.array([row["reward_model"]], dtype=object),
                "extra_info": np.array([dict(row["extra_info"])], dtype=object),
            },
        )
        result = manager.loop.run_until_complete(manager.run_single(data))  # the loop verl bound it to
        scores.append(float(result["reward_score"]))
    return scores


@pytest.fixture
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def test_documented_command_loads_our_reward_and_verls_manager_scores_rows(tmp_path, tokenizer):
    import verl

    from sfdata.hub.export import VERL_VERSIONS

    assert verl.__version__ in VERL_VERSIONS  # the version the README and card name as tested
    folder = tmp_path / "verl"
    rows = _rows(folder)
    config = _verl_config(_documented_overrides(folder))
    assert config.reward.custom_reward_function.path == str(folder / "reward.py")
    assert config.data.train_files == str(folder / "train.parquet")
    scores = _score(config, tokenizer, rows)
    assert scores == [want for _, _, want in rows]


def test_old_top_level_keys_load_no_reward_function_in_this_verl(tmp_path, tokenizer):
    """Why the command changed: verl 0.9 ignores `custom_reward_function.*`, falls back to its own scorer,
    and that scorer raises NotImplementedError for our data_source."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    folder = tmp_path / "verl"
    rows = _rows(folder)
    old = [f"custom_reward_function.path={folder / 'reward.py'}", "custom_reward_function.name=compute_score"]
    config = _verl_config(old)
    assert get_custom_reward_fn(config) is None
    with pytest.raises(NotImplementedError):
        _score(config, tokenizer, rows[:1])
