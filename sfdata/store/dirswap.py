"""The one atomic directory swap: a folder is built beside its target, then moved into place.

Readers see the old folder or the new one, never a half-written one; a crash while staging
leaves the target untouched. Staging and set-aside folders are per-process temp names
(`store.tempfiles`), so a killed writer's leftovers are cleaned, and an old folder left aside
by a death between the two renames is put back, by the next writer.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfdata.store.tempfiles import aside_name, new_temp_dir


def swap_in(staging: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Move the finished folder `staging` to `target`, replacing what is there (two renames)."""
    staging, target = Path(staging), Path(target)
    old = aside_name(target)
    moved = False
    try:
        if target.exists():
            os.replace(target, old)
            moved = True
        try:
            os.replace(staging, target)
        except BaseException:
            if moved and not target.exists():
                os.replace(old, target)  # put the previous folder back
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return target


@contextmanager
def staged_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty sibling folder of `target`; on success it replaces `target`, on error it is removed."""
    target = Path(target)
    staging = new_temp_dir(target.parent, f"{target.name}.new")  # per process: two writers never share it
    try:
        yield staging
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
