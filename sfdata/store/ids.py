"""Stable row ids: a content hash of a row's inputs, so a resumed stage can skip what exists."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_id(*parts: Any, length: int = 16) -> str:
    """Hex digest of the JSON encoding of `parts` (sorted keys, so dict order never matters)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=length // 2).hexdigest()


def seed_from_id(row_id: str, base_seed: int = 0) -> int:
    """A sampling seed owned by one row: the same id always gets the same seed, whatever the chunking or resume order.

    31 bits, so every engine (torch, numpy, vLLM, OpenAI servers) accepts it.
    """
    h = hashlib.blake2b(f"{base_seed}:{row_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") & 0x7FFFFFFF
