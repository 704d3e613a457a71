"""Checkpoints we save follow the user's umask (safetensors alone writes model.safetensors 0600)."""

from __future__ import annotations

import os
import stat

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
