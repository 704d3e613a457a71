"""Stage configs: one dataclass per stage defines its TOML/YAML section AND its command-line flags.

Each default and help text is written once, on the dataclass field (`metadata={"help": ...}`, as
TRL's `HfArgumentParser` does): `add_config_args` turns the fields into argparse flags and
`config_from` merges the command line over a config-file section through the one generic builder
`from_dict`. Shared pieces (`SamplingConfig`, `EngineConfig`) are mixed into the stage configs of
generate, reflect and eval so their sampling options mean the same everywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

from sfdata.engines import ENGINE_KINDS
from sfdata.store.ids import stable_id

T = TypeVar("T")


def opt(default: Any = dataclasses.MISSING, help: str = "", **meta: Any) -> Any:  # noqa: A002
    """A config field with its help text (and optional `choices`, `nargs`, `metavar`, `flag`) for the CLI.

    Numbers may carry bounds (`min`, `max` inclusive, `above` exclusive) that `check_ranges` enforces
    when the config is made, so a bad number is refused before any work.
    """
    meta = {"help": help, **meta}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_ranges(cfg: Any) -> None:
    """Refuse a number outside its field's bounds (`opt(..., min=, max=, above=)`), naming the flag."""
    for f in dataclasses.fields(cfg):
        bounds = {k: f.metadata[k] for k in ("min", "max", "above") if k in f.metadata}
        value = getattr(cfg, f.name)
        if not bounds or value is None:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{f.name} ({flag}) must be a number, got {value!r}")
        if "min" in bounds and value < bounds["min"]:
            raise ValueError(f"{f.name} ({flag}) must be >= {bounds['min']}, got {value}")
        if "above" in bounds and value <= bounds["above"]:
            raise ValueError(f"{f.name} ({flag}) must be > {bounds['above']}, got {value}")
        if "max" in bounds and value > bounds["max"]:
            raise ValueError(f"{f.name} ({flag}) must be <= {bounds['max']}, got {value}")


@dataclasses.dataclass
class SamplingConfig:
    """Sampling options shared by every stage that generates (generate, reflect, eval)."""

    temperature: float = opt(0.7, "sampling temperature (0 = greedy)", min=0)
    top_p: float = opt(1.0, "nucleus sampling mass", above=0, max=1)
    max_tokens: int = opt(256, "most new tokens per completion", min=1)
    seed: int = opt(0, "base seed: each row is sampled with seed_from_id(its id, this seed)")

    def __post_init__(self) -> None:
        check_ranges(self)  # also checks the fields of the stage configs built on it

    def sampling(self):
        from sfdata.engines.base import SamplingParams

        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed
        )


@dataclasses.dataclass
class EngineConfig:
    """Which model and engine a generating stage uses."""

    model: str | None = opt(None, "HF id or path (default: the embedded SmolLM2)")
    engine: str = opt("auto", "generation engine (auto: vLLM on a GPU, else transformers)", choices=ENGINE_KINDS)
    batch_size: int = opt(16, "engine batch size", min=1)
    base_url: str | None = opt(None, "OpenAI-compatible server URL (engine openai)")
    engine_options: dict[str, Any] = opt({}, "more engine keyword options, as K=V (e.g. tensor_parallel_size=2)")

    def options(self) -> dict[str, Any]:
        """Engine keyword options: `engine_options` plus `base_url` when set."""
        return {**self.engine_options, **({"base_url": self.base_url} if self.base_url else {})}

    def make_engine(self):
        from sfdata.engines import get_engine

        return get_engine(self.engine, self.model, batch_size=self.batch_size, **self.options())

    def __post_init__(self) -> None:
        check_ranges(self)


# ---- the generic builder -------------------------------------------------------------------------


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def from_dict(cls: type[T], d: dict[str, Any] | None) -> T:
    """Build dataclass `cls` from a config section; unknown keys are an error (typos fail loudly).

    Lists become tuples where the field is a tuple (TOML and YAML have only lists). A class with a
    `preset_values(name) -> dict` static method gets the named preset's values under the section's own.
    """
    d = dict(d or {})
    presets = getattr(cls, "preset_values", None)  # a config with presets: the preset's values under the section's
    if callable(presets) and d.get("preset"):
        d = {**presets(d["preset"]), **d}
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(
            f"unknown option(s) for {cls.__name__}: {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    for name, value in d.items():
        if isinstance(value, list) and typing.get_origin(_strip_optional(hints[name])) is tuple:
            d[name] = tuple(value)
    return cls(**d)  # type: ignore[call-arg]


def config_hash(cfg: Any, root: str | Path | None = None) -> str:
    """What a stage's manifest entry records: a finished stage reruns only when this changes.

    With `root` (the run), paths inside the run are hashed relative to it (`RUN/models/sft`), so a
    copied or moved run keeps its stages' hashes.
    """
    value = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg
    if root is None:
        return stable_id(value)
    roots = sorted({str(root), str(Path(root).resolve())}, key=len, reverse=True)
    return stable_id(_portable(value, roots))


def _portable(value: Any, roots: list[str]) -> Any:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        for root in roots:
            if value == root or value.startswith(root + "/"):
                return "RUN" + value[len(root) :]
        return value
    if isinstance(value, dict):
        return {k: _portable(v, roots) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable(v, roots) for v in value]
    return value


def load_config(path: str | Path) -> dict[str, Any]:
    """A TOML or YAML config file as a dict (clear errors for a missing file or bad syntax)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        cfg = yaml.safe_load(text) or {}
    else:
        import tomllib

        try:
            cfg = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: invalid TOML: {e}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: the config must be a table/mapping")
    return cfg


# ---- configs -> command-line flags -----------------------------------------------------------------


def _key_value(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise argparse.ArgumentTypeError(f"expected K=V, got {item!r}")
    k, v = item.split("=", 1)
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


class _KeyValues(argparse.Action):
    """`--flag K=V [K=V ...]`, repeatable: every pair lands in one dict (values parsed as JSON when they are)."""

    def __call__(self, parser, namespace, values, option_string=None):
        merged = dict(getattr(namespace, self.dest, None) or {})
        merged.update(values)
        setattr(namespace, self.dest, merged)


def _flag_spec(f: dataclasses.Field, tp: Any) -> dict[str, Any]:
    """argparse keyword arguments for one field, from its type and metadata."""
    meta = f.metadata
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    shown = list(default) if isinstance(default, tuple) else default
    help_ = meta.get("help", "") + ("" if default is None or shown in ({}, []) else f" (default: {shown})")
    spec: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_}
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if tp is bool:
        spec["action"] = argparse.BooleanOptionalAction
    elif origin in (tuple, list):
        elem = typing.get_args(tp)[0] if typing.get_args(tp) else str
        spec.update(nargs=meta.get("nargs", "+"), type=elem if elem in (int, float) else str)
    elif origin is dict or tp is dict:
        spec.update(nargs="+", type=_key_value, metavar="K=V", action=_KeyValues)
    elif tp in (int, float):
        spec["type"] = tp
    for key in ("choices", "metavar"):
        if key in meta:
            spec[key] = meta[key]
    return spec


def add_config_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One `--flag` per field of `cls` (`top_p` -> `--top-p`); a flag left out keeps the config/default value."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or f.metadata.get("cli") is False:
            continue
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        parser.add_argument(flag, **_flag_spec(f, hints[f.name]))


def cli_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The config fields given on the command line (flags left out are absent, not defaulted)."""
    out = {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            out[f.name] = getattr(args, f.name)
    return out


def config_from(cls: type[T], section: dict[str, Any] | None, args: argparse.Namespace | None = None) -> T:
    """`cls` from a config-file section with the command line's values on top."""
    merged = {**(section or {}), **(cli_values(args, cls) if args is not None else {})}
    return from_dict(cls, merged)
