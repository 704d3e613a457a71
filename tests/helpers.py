"""Test helpers: tiny models built from a config (no download), fixture runs."""

from __future__ import annotations

import os
from pathlib import Path

_TINY_DIR = Path(os.environ.get("SF_TEST_CACHE", Path.home() / ".cache" / "skillfactory" / "test"))


def tokenizer_dir() -> Path:
    """SmolLM2's tokenizer (with chat template and the GGUF's end token), saved once from the embedded GGUF."""
    from sfdata.models import CONVERT_VERSION

    out = _TINY_DIR / f"tokenizer-v{CONVERT_VERSION}"  # the version names the tokenizer's fixes (end token)
    if (out / "tokenizer_config.json").is_file():
        return out
    from sfdata.models import embedded_tokenizer

    tok = embedded_tokenizer()
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tok.save_pretrained(tmp)
    os.replace(tmp, out) if not out.exists() else None
    return out


def tiny_model_dir(seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    """A random 2-layer Llama with SmolLM2's tokenizer, saved as a normal checkpoint folder."""
    from sfdata.models import CONVERT_VERSION

    out = _TINY_DIR / f"tiny-llama-v{CONVERT_VERSION}-s{seed}-l{layers}-h{hidden}"
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir())
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if not out.exists():
        os.replace(tmp, out)
    return out
