"""Answers of the inspector's open-time checks, cached in RUN/.index by the identity of the files they read.

Opening a big run checked every trace id for duplicates and joined the traces with the skills table
(~0.7 s on 200k traces, every open). The answers depend only on the files, so they are kept in a small
JSON file keyed by the files' inode-level signature (path, size, mtime, inode): a replaced, touched,
added or removed part asks again. Best effort: a read-only run or a broken cache file just asks again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tui.search_index import signature

VERSION = 1


def checks_path(index_file: Path) -> Path:
    """RUN/.index/traces.checks.json beside the search index (one per traces file set, as the index)."""
    return index_file.with_name(f"{index_file.stem}.checks.json")


class OpenChecks:
    """{check name: answer} for one set of files; `get` is None when the files changed since it was stored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text())
            self._data: dict[str, Any] = data if isinstance(data, dict) and data.get("version") == VERSION else {}
        except (OSError, ValueError):
            self._data = {}

    @staticmethod
    def key(files: list[Path]) -> str | None:
        try:
            return signature(files)
        except OSError:  # a part vanished meanwhile: no cache this time
            return None

    def get(self, name: str, files: list[Path]) -> Any | None:
        entry = self._data.get(name)
        key = self.key(files)
        if not isinstance(entry, dict) or key is None or entry.get("sig") != key:
            return None
        return entry.get("value")

    def put(self, name: str, files: list[Path], value: Any) -> None:
        key = self.key(files)
        if key is None:
            return
        self._data = {**self._data, "version": VERSION, name: {"sig": key, "value": value}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_symlink():  # never write through a link planted in the run
                return
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checks.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(self._data, fh)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:  # a read-only run: the checks run again next time
            pass
