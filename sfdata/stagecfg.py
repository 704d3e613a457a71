"""Small helpers shared by stage configs: dataclass from a config dict, config hashing."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sfdata.store.ids import stable_id

T = TypeVar("T")


def from_dict(cls: type[T], d: dict[str, Any] | None) -> T:
    """Build dataclass `cls` from a config section; unknown keys are an error (typos fail loudly)."""
    d = dict(d or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(
            f"unknown option(s) for {cls.__name__}: {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in d and isinstance(d[f.name], list) and f.type in ("tuple[str, ...]", "tuple[int, ...]"):
            d[f.name] = tuple(d[f.name])
    return cls(**d)  # type: ignore[call-arg]


def config_hash(cfg: Any) -> str:
    return stable_id(dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg)
