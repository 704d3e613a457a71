"""Redact credentials before anything is written or shown: manifests, stage errors, logs, dataset cards.

A config may carry `engine_options.api_key`, a token or a password, or a `base_url` with
`user:pass@`. `redact(obj)` returns a copy with those values replaced by `***` and remembers the
secret values it saw, so `redact_text` also removes them from free text such as an exception
message that quotes the key.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(
    r"^(?:.*[_\-.])?(?:api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?key|private[_\-]?key|token|access[_\-]?token|auth[_\-]?token|secret|client[_\-]?secret|"
    r"password|passwd|credentials?|authorization|auth|bearer)$",
    re.IGNORECASE,
)
_NOT_SECRET = re.compile(r"^(?:eos|bos|pad|unk|stop|sep|cls|mask|sort|group|cache|primary|join|partition)[_\-]", re.I)
# user-info runs to the LAST '@' before the host: a password may itself hold '@' (`http://u:p@ss@host`)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^/\s'\"]+)@")
_BEARER = re.compile(r"(?P<p>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)
_QUERY = re.compile(
    r"(?P<p>[?&;](?:api[_\-]?key|apikey|key|token|access_token|secret|password|sig|signature)=)[^&#\s'\"]+",
    re.IGNORECASE,
)
_TOKEN_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_\-]{8,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,})\b")
_known: set[str] = set()
_known_lock = threading.Lock()


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.match(name)) and not _NOT_SECRET.match(name)


def remember(secret: str) -> None:
    """Treat `secret` as a credential from now on: `redact_text` removes it wherever it appears."""
    if isinstance(secret, str) and len(secret) >= 4 and secret != MASK:
        with _known_lock:
            _known.add(secret)


def redact_text(text: str) -> str:
    """Remove credentials from free text: URL user-info, bearer tokens, key=... query args, known secrets."""
    if not isinstance(text, str) or not text:
        return text
    _learn_url(text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for s in known:
        if s in text:
            text = text.replace(s, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m['p']}{MASK}", text)
    text = _QUERY.sub(lambda m: f"{m['p']}{MASK}", text)
    return _TOKEN_SHAPES.sub(MASK, text)


def remember_environment(environ: dict[str, str] | None = None) -> None:
    """Credentials in environment variables (OPENAI_API_KEY, HF_TOKEN, ...) are masked in text too, and so
    is the user-info of a URL in any variable (OPENAI_BASE_URL=http://user:pass@host)."""
    import os

    for name, value in (os.environ if environ is None else environ).items():
        if is_secret_key(name) and len(value) >= 8:
            remember(value)
        elif "://" in value and "@" in value:
            _learn_url(value)


def _learn_url(text: str) -> None:
    for m in _URL_USERINFO.finditer(text):
        info = m["info"]
        remember(info)
        if ":" in info:
            remember(info.split(":", 1)[1])


def redact(obj: Any) -> Any:
    """A copy of `obj` (dicts, lists, strings) with credential values masked; other values pass through."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, str) and is_secret_key(k) and v not in (None, "", False):
                if isinstance(v, str):
                    remember(v)
                out[k] = MASK
            else:
                out[k] = redact(v)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact(v) for v in obj)
    if isinstance(obj, str):
        _learn_url(obj)
        return redact_text(obj)
    return obj


remember_environment()
