"""Configs define the CLI: flags come from dataclass fields, file sections merge under CLI values."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from sfdata.factory.build import BuildConfig
from sfdata.generate import GenerateConfig
from sfdata.reflect import ReflectConfig
from sfdata.stagecfg import SamplingConfig, add_config_args, config_from, from_dict


def parser_for(cls) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_config_args(p, cls)
    return p


def test_flags_come_from_fields_and_keep_defaults_written_once():
    args = parser_for(GenerateConfig).parse_args(["--top-p", "0.9", "--variants", "original", "--n", "2"])
    cfg = config_from(GenerateConfig, {"max_tokens": 99, "n": 8}, args)
    assert (cfg.top_p, cfg.variants, cfg.n, cfg.max_tokens) == (0.9, ("original",), 2, 99)
    assert cfg.temperature == GenerateConfig().temperature  # untouched flags keep the dataclass default
    assert config_from(GenerateConfig, None, parser_for(GenerateConfig).parse_args([])) == GenerateConfig()
    help_text = parser_for(GenerateConfig).format_help()
    assert "samples per question x variant (default: 4)" in help_text


def test_bool_tuple_pair_choice_and_dict_flags():
    args = parser_for(BuildConfig).parse_args(["--no-unique-variants", "--n-range", "2", "4", "--formats", "*C", "0C"])
    cfg = config_from(BuildConfig, {}, args)
    assert (cfg.unique_variants, cfg.n_range, cfg.formats) == (False, (2, 4), ("*C", "0C"))
    with pytest.raises(SystemExit):
        parser_for(BuildConfig).parse_args(["--formats", "nope"])
    args = parser_for(GenerateConfig).parse_args(["--engine-options", "tensor_parallel_size=2", "dtype=bf16"])
    assert config_from(GenerateConfig, {}, args).engine_options == {"tensor_parallel_size": 2, "dtype": "bf16"}


def test_one_generic_builder_no_from_dict_shims():
    assert from_dict(BuildConfig, {"formats": ["*C"], "n_range": [1, 2]}).n_range == (1, 2)
    with pytest.raises(ValueError, match="unknown option.*samples"):
        from_dict(GenerateConfig, {"samples": 3})
    with pytest.raises(ValueError, match="unknown format"):
        from_dict(BuildConfig, {"formats": ["nope"]})
    for cls in (GenerateConfig, ReflectConfig, BuildConfig):
        assert "from_dict" not in cls.__dict__


def test_generate_and_reflect_share_one_sampling_config():
    names = {f.name for f in dataclasses.fields(SamplingConfig)}
    for cls in (GenerateConfig, ReflectConfig):
        assert issubclass(cls, SamplingConfig) and names <= {f.name for f in dataclasses.fields(cls)}
    assert GenerateConfig(temperature=0.2).sampling().key() == ReflectConfig(temperature=0.2).sampling().key()


def test_dead_code_is_gone():
    from sfdata.engines.base import SamplingParams
    from sfdata.factory.formats import Trace
    from sfdata.store import parquet, run

    assert not hasattr(SamplingParams, "from_dict") and not hasattr(run, "STAGES")
    assert not hasattr(parquet, "write_table") and "text" not in {f.name for f in dataclasses.fields(Trace)}


def test_training_commands_take_their_flags_from_the_configs():
    from sfdata.app.cli.main import build_parser
    from sfdata.stagecfg import config_from
    from sftrain.eval import EvalConfig
    from sftrain.rl import RLRunConfig
    from sftrain.sft import SFTRunConfig, SFTStageConfig

    p, _ = build_parser("sft")
    a = p.parse_args(["runs/x", "--set", "max_steps=10", "--set", "learning_rate=1e-5", "--output", "o", "--all"])
    cfg = config_from(SFTRunConfig, {"data": a.data, "kept_only": not a.all}, a)
    assert cfg.overrides == {"max_steps": 10, "learning_rate": 1e-5} and cfg.output_dir == "o" and not cfg.kept_only
    assert issubclass(SFTRunConfig, SFTStageConfig)  # one SFT config: the stage's fields are the command's
    p, _ = build_parser("rl")
    cfg = config_from(RLRunConfig, {}, p.parse_args(["--format-reward", "--exclude-from", "r1", "r2"]))
    assert cfg.format_reward and cfg.exclude_from == ("r1", "r2") and cfg.seed == RLRunConfig().seed
    p, _ = build_parser("eval")
    cfg = config_from(EvalConfig, {"preset": "paper"}, p.parse_args(["--tasks", "acronym", "--max-tokens", "64"]))
    assert cfg.tasks == ("acronym",) and cfg.max_tokens == 64 and issubclass(EvalConfig, SamplingConfig)
    for cls in (SFTRunConfig, SFTStageConfig, RLRunConfig, EvalConfig):
        assert "from_dict" not in cls.__dict__
