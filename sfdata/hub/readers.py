"""Read a dataset from a local file, a local folder or the Hugging Face Hub as one Polars frame.

One reader for every consumer (raw import, pull, `sf sft`), so a bad file is the same clear
one-line error everywhere: the file is named, and nothing is half-read.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

DATA_SUFFIXES = (".parquet", ".jsonl", ".json")


class DataFileError(ValueError):
    """A data file that cannot be read (bad UTF-8, not JSON, empty, unsupported type)."""


def looks_local(source: str | Path) -> bool:
    """True when `source` can only mean a local path (a Hub id is `name` or `owner/name`).

    Used to fail at once with "no such file or folder" instead of spending 30-55 s in Hub retries.
    `models/sftt` counts as local when `models/` exists here (a typo of a local output folder).
    """
    s = str(source)
    if s.startswith((".", "/", "~")) or "\\" in s or s.count("/") > 1 or s.endswith("/"):
        return True
    if Path(s).suffix.lower() in (*DATA_SUFFIXES, ".csv", ".txt", ".gguf", ".safetensors", ".bin"):
        return True
    return "/" in s and Path(s).parent.is_dir()


def check_local(source: str | Path, what: str = "file or folder") -> None:
    """Raise FileNotFoundError at once for a local-looking path that does not exist."""
    if looks_local(source) and not Path(str(source)).expanduser().exists():
        raise FileNotFoundError(f"{source}: no such {what}")


def offline() -> bool:
    import os

    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in ("1", "true", "yes", "on")


def check_hub_reachable(repo_id: str, timeout: float = 3.0) -> None:
    """One clear line within `timeout` seconds when the Hub cannot be reached, instead of the
    libraries' retries. Skipped with HF_HUB_OFFLINE set (then only the local cache is read)."""
    import os
    import socket
    from urllib.parse import urlparse

    if offline():
        return
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(
            f"{repo_id}: not a local path, and the Hugging Face Hub ({host}) cannot be reached ({e}); "
            "check the path or your network, or set HF_HUB_OFFLINE=1 to use the local cache"
        ) from None


def check_source(source: str | Path, what: str = "file or folder") -> None:
    """A path that exists passes; a local-looking one fails at once; a Hub id needs the Hub."""
    if Path(str(source)).expanduser().exists():
        return
    check_local(source, what)
    check_hub_reachable(str(source))


def read_file(p: Path) -> pl.DataFrame:
    """One local Parquet, JSON or JSON Lines file (a .json holding JSON Lines is read too)."""
    p = Path(p)
    suffix = p.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataFileError(f"{p}: unsupported file type {p.suffix!r} (use .parquet, .json or .jsonl)")
    if suffix == ".parquet":
        try:
            return pl.read_parquet(p, glob=False)  # a path is literal (`sweep[lr=1e-6]`)
        except Exception as e:
            raise DataFileError(f"{p}: not a readable Parquet file ({type(e).__name__})") from None
    return _read_json(p)


def _read_json(p: Path) -> pl.DataFrame:
    """JSON or JSON Lines as the JSON spec reads them: a UTF-8 byte-order mark is accepted, and JSON Lines
    are split on b"\\n" only (str.splitlines also splits on U+2028 and U+0085, valid inside strings)."""
    raw = p.read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataFileError(f"{p}: not valid UTF-8 (byte {e.start})") from None
    if not text.strip():
        raise DataFileError(f"{p}: empty file, no rows to read")
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" and stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataFileError(f"{p}: not JSON ({e.msg} at line {e.lineno})") from None
        except RecursionError:
            raise DataFileError(f"{p}: JSON nested too deeply") from None
        if not rows:
            raise DataFileError(f"{p}: empty JSON list, no rows to read")
        return _frame(p, rows)
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataFileError(f"{p}: line {n} is not JSON ({e.msg})") from None
        except RecursionError:
            raise DataFileError(f"{p}: line {n} is nested too deeply") from None
        if not isinstance(rows[-1], dict):
            raise DataFileError(f"{p}: line {n} is not a JSON object")
    return _frame(p, rows)


def _frame(p: Path, rows: list) -> pl.DataFrame:
    if not all(isinstance(r, dict) for r in rows):
        raise DataFileError(f"{p}: expected JSON objects (one per row)")
    try:
        return pl.DataFrame(rows, infer_schema_length=None)
    except Exception as e:  # mixed types in one column
        first = (str(e).strip().splitlines() or [""])[0][:120]
        raise DataFileError(f"{p}: rows do not share one schema ({type(e).__name__}: {first})") from None


def read_source(source: str | Path, config: str | None = None, split: str = "train") -> pl.DataFrame:
    """A local Parquet/JSON/JSONL file or folder, or a Hub dataset id, as a Polars frame."""
    p = Path(str(source)).expanduser()
    if p.is_file():
        return read_file(p)
    if p.is_dir():
        return pl.concat([read_file(f) for f in folder_files(p, config, split)], how="diagonal_relaxed")
    check_source(source)
    return load_hub_frame(str(source), config, split)


def folder_files(folder: Path, config: str | None, split: str = "train") -> list[Path]:
    """The data files of one config of a dataset folder (never a mix of configs).

    A folder with a README card lists each config's files in its YAML (the Hub's own rule);
    otherwise the sub-folder named like the config; otherwise all data files when they are one
    kind in one folder (shards), else an error naming them.
    """
    from sfdata.hub.card import card_configs

    configs = card_configs(folder, split)
    if configs:
        name = config if config in configs else next(iter(configs)) if config is None else None
        if name is None:
            raise ValueError(f"{folder}: no config {config!r}; its card lists {', '.join(configs)}")
        files = sorted({f for pat in configs[name] for f in card_files(folder, pat)})
    elif config and (folder / config).is_dir():
        files = _data_files(folder / config)
    else:
        files = _data_files(folder)
        kinds = {(f.parent, f.suffix) for f in files}
        if len(kinds) > 1:
            names = ", ".join(str(f.relative_to(folder)) for f in files[:8])
            raise ValueError(f"{folder}: several kinds of data ({names}); pass one file or a --config sub-folder")
    if not files:
        raise FileNotFoundError(
            f"no Parquet/JSON data files under {folder}" + (f" for config {config}" if config else "")
        )
    return files


def card_files(folder: Path, pattern: str) -> list[Path]:
    """The files a card's `data_files` pattern names, all inside `folder` (a card is untrusted input).

    An absolute pattern, one with `..`, or a match that resolves (through a symlink) outside the folder
    is one clear error naming the card: `data_files: ../secret/*.parquet` once imported rows from elsewhere."""
    card = folder / "README.md"
    parts = Path(pattern).parts
    if not pattern or Path(pattern).is_absolute() or pattern.startswith(("/", "\\", "~")) or ".." in parts:
        raise ValueError(f"{card}: data_files pattern {pattern!r} must be a relative path inside the dataset folder")
    root = folder.resolve()
    out = []
    for f in folder.glob(pattern):
        if not f.resolve().is_relative_to(root):
            raise ValueError(f"{card}: data_files pattern {pattern!r} matches {f.name}, which lies outside {folder}")
        if f.is_file():
            out.append(f)
    return out


def _data_files(folder: Path) -> list[Path]:
    root = folder.resolve()
    files = sorted(f for f in folder.rglob("*") if f.suffix in DATA_SUFFIXES and f.name != "dataset_info.json")
    return [
        f
        for f in files
        if f.is_file()
        and not any(p.startswith(".") for p in f.relative_to(folder).parts)
        and f.resolve().is_relative_to(root)  # a symlink out of the folder is not its data
    ]


def load_hub_frame(repo_id: str, config: str | None, split: str) -> pl.DataFrame:
    import datasets

    try:
        try:
            ds = datasets.load_dataset(repo_id, config, split=split)
        except ValueError:
            if config is None:
                raise
            ds = datasets.load_dataset(repo_id, split=split)
    except Exception as e:  # offline, missing, private
        first = str(e).splitlines()[0] if str(e) else ""
        raise FileNotFoundError(
            f"cannot load {repo_id!r} from the Hugging Face Hub ({type(e).__name__}: {first[:200]}). "
            "Check the name, your network and HF_TOKEN, or pass a local .parquet/.jsonl file."
        ) from None
    return pl.from_arrow(ds.data.table)
