"""The one definition of file identity, in two strengths.

- `file_identity(path)` (inode-level): (path, inode, size, mtime); `files_signature` the same for many files. Our writes are temp + rename,
  so any rewrite is a new inode. Cheap (one stat); for caches that live next to the files they describe:
  the column cache, the read-connection cache, the inspector's search index and conversion cache.
- `content_identity(path, root)` (content-stable): (path relative to `root`, size, content digest). It
  survives `cp -r`, `shutil.copytree` without metadata and moving the run: a copied run does not rerun
  its stages, while any changed, added or removed file changes it. The digest is BLAKE2b of: a Parquet
  file's footer (schema, row-group offsets, compressed sizes, row counts and column statistics: what
  changes when any row changes) plus its first 64 KiB, so checking a run costs reads per file, not per
  byte; any other file whole up to 8 MiB, and a larger one (a checkpoint) by its first and last 1 MiB.
  A rewrite that keeps the size, the footer and those bytes would go unseen: our writers never make one.
  Digests are cached per process by `file_identity`, so a warm process reads a file once.
- `fingerprint(paths, root)` is the one digest of many files (stage inputs and outputs).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

FULL_HASH_MAX = 8 << 20  # files up to this size are hashed whole
_HEAD = 64 << 10
_EDGE = 1 << 20
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_identity(path: str | os.PathLike[str]) -> tuple[str, int, int, int]:
    """(path, inode, size, mtime_ns): changes on every rewrite, move or touch; not stable across copies."""
    st = os.stat(path)
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns)


def files_signature(paths: Iterable[str | os.PathLike[str]]) -> list[list[object]]:
    """Inode-level identity of many files as JSON-ready rows (resolved path, size, mtime, inode)."""
    out: list[list[object]] = []
    for p in paths:
        st = os.stat(p)
        out.append([str(Path(p).resolve()), st.st_size, st.st_mtime_ns, st.st_ino])
    return out


def _parquet_footer(fh, size: int) -> bytes | None:
    if size < 12:
        return None
    fh.seek(size - 8)
    tail = fh.read(8)
    if tail[4:] != b"PAR1":
        return None
    n = int.from_bytes(tail[:4], "little")
    if n <= 0 or n + 8 > size:
        return None
    fh.seek(size - 8 - n)
    return fh.read(n)


_RACY_NS = 2_000_000_000  # as git's racy-index rule: younger files are hashed each time


def content_digest(path: str | os.PathLike[str]) -> str:
    """A digest of the file's bytes (see the module doc for large files); cached by inode identity."""
    key = file_identity(path)
    got = _DIGESTS.get(key)
    if got is not None:
        return got
    size = key[2]
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        footer = _parquet_footer(fh, size)
        fh.seek(0)
        if footer is not None:
            h.update(b"parquet-footer")
            h.update(footer)
            h.update(fh.read(_HEAD))
        elif size <= FULL_HASH_MAX:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(fh.read(_EDGE))
            fh.seek(max(0, size - _EDGE))
            h.update(fh.read(_EDGE))
    got = h.hexdigest()
    if len(_DIGESTS) > 100_000:
        _DIGESTS.clear()
    # "racy" files (changed within the clock's granularity) are not cached: a rewrite in the same tick can keep
    # size, mtime and even the inode (a freed one is reused), so the identity alone cannot tell it apart
    if time.time_ns() - key[3] > _RACY_NS:
        _DIGESTS[key] = got
    return got


def content_identity(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> tuple[str, int, str]:
    """(path relative to `root` in POSIX form, size, content digest): the same for a copied or moved run."""
    p = Path(path)
    rel = p.relative_to(root).as_posix()
    return (rel, p.stat().st_size, content_digest(p))


def fingerprint(paths: Iterable[str | os.PathLike[str]], root: str | os.PathLike[str]) -> str:
    """One content-stable digest of a set of files under `root` (order-free)."""
    rows = sorted(content_identity(p, root) for p in paths)
    return hashlib.blake2b(json.dumps(rows).encode(), digest_size=16).hexdigest()
