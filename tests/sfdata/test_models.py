"""Checkpoints we save follow the user's umask (safetensors alone writes model.safetensors 0600); the embedded
model's conversion names <|im_end|> as the end token everywhere."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sfdata.store.tempfiles import current_umask
from tests.helpers import tiny_model_dir


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_saved_checkpoint_files_follow_the_umask(tmp_path, mask):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sfdata.models import save_checkpoint

    src = tiny_model_dir()
    model = AutoModelForCausalLM.from_pretrained(src)
    tok = AutoTokenizer.from_pretrained(src)
    old = os.umask(mask)
    try:
        assert current_umask() == mask
        out = tmp_path / "ck"
        save_checkpoint(model, tok, out)
    finally:
        os.umask(old)
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert files == {name: 0o666 & ~mask for name in files}, {n: oct(m) for n, m in files.items()}
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask


IM_END, IM_START = "<|im_end|>", "<|im_start|>"


def test_embedded_tokenizer_ends_turns_with_im_end():
    """transformers' GGUF reader names <|im_start|> as the end token; the GGUF (and the chat template) say <|im_end|>."""
    from sfdata.models import embedded_tokenizer

    tok = embedded_tokenizer()
    assert tok.eos_token == IM_END and tok.pad_token == IM_END
    text = tok.apply_chat_template(
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], tokenize=False
    )
    assert text.rstrip().endswith("4" + tok.eos_token)


def test_a_cache_from_an_older_conversion_is_converted_again(tmp_path, monkeypatch):
    import sfdata.models as models

    monkeypatch.setenv("SF_CACHE", str(tmp_path))
    target = models.embedded_checkpoint_dir()
    target.mkdir(parents=True)
    (target / ".skillfactory-converted").write_text("converted by version 1\n")  # the old, unversioned marker
    (target / "tokenizer_config.json").write_text('{"eos_token": "<|im_start|>"}')
    calls: list[Path] = []

    def fake_convert(gguf, folder):  # the real one is covered by the slow test below
        calls.append(folder)
        (folder / "tokenizer_config.json").write_text('{"eos_token": "<|im_end|>"}')

    monkeypatch.setattr(models, "_convert_into", fake_convert)
    assert models.convert_embedded() == target and len(calls) == 1
    assert "im_end" in (target / "tokenizer_config.json").read_text() and models.is_converted(target)
    models.convert_embedded()
    assert len(calls) == 1  # converted once per version


@pytest.mark.slow
def test_converted_checkpoint_and_generation_end_turns_with_im_end():
    """The real conversion (cached once per CONVERT_VERSION, shared with the demo): tokenizer, config and
    generation config all name <|im_end|>, and the engine stops there, not at <|im_start|>."""
    import json

    from transformers import AutoTokenizer

    from sfdata.engines.base import SamplingParams
    from sfdata.engines.hf import TransformersEngine
    from sfdata.models import convert_embedded

    folder = convert_embedded()
    tok = AutoTokenizer.from_pretrained(folder)
    end = tok.convert_tokens_to_ids(IM_END)
    assert tok.eos_token == IM_END and tok.pad_token_id == end
    config = json.loads((folder / "config.json").read_text())
    gen = json.loads((folder / "generation_config.json").read_text())
    assert config["eos_token_id"] == end and config["pad_token_id"] == end
    assert gen["eos_token_id"] == end and gen["pad_token_id"] == end
    eng = TransformersEngine(None, batch_size=2)
    try:
        assert end in eng._eos_ids() and tok.convert_tokens_to_ids(IM_START) not in eng._eos_ids()
        ask = [{"role": "user", "content": "What is 2+3? Answer with just the number."}]
        [[c]] = eng.generate([ask], SamplingParams(temperature=0, max_tokens=48))
        assert c.finish_reason == "stop" and "5" in c.text and IM_END not in c.text and c.completion_tokens < 48
    finally:
        eng.close()
