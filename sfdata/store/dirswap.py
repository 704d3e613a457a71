"""The one atomic directory swap: a folder is built beside its target, then exchanged with it in one step.

Readers see the old folder or the new one, never a half-written or missing one, even when the writer is
killed at any point. On Linux the swap is one `renameat2(..., RENAME_EXCHANGE)` system call: the
finished folder and the target trade places atomically, then the old folder (now under the staging
name) is deleted. Where the kernel or file system lacks the exchange (other systems, some network
file systems), the fallback is a generation pointer: the target becomes a symbolic link to a
generation folder beside it (`.NAME.gen-XXXX`), and each swap points a new link at the new generation
with one `os.replace` (atomic), then deletes the old generation. Turning an existing real folder into
a pointer the first time is the one step that needs two renames; a death between them is repaired by
the next writer (`store.tempfiles.clean_stale_temps` puts the old folder back).

Staging folders are per-process temp names (`store.tempfiles`), so a killed writer's leftovers are
cleaned by the next writer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfdata.store.tempfiles import aside_name, new_temp_dir

RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_renameat2 = None  # resolved once: the libc function, or False when unavailable
FORCE_FALLBACK = False  # tests set this to exercise the generation-pointer path


def _libc_renameat2():
    global _renameat2
    if _renameat2 is None:
        _renameat2 = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                fn = libc.renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
                _renameat2 = fn
            except (OSError, AttributeError):  # glibc < 2.28 or another libc
                _renameat2 = False
    return _renameat2


def exchange(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Atomically swap two existing paths; False when this system cannot (then nothing was changed)."""
    fn = None if FORCE_FALLBACK else _libc_renameat2()
    if not fn:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"cannot swap {a} and {b}: {os.strerror(err)}")


def _point(target: Path, generation: Path) -> None:
    """Make `target` a symbolic link to `generation` (a sibling) with one atomic rename."""
    link = target.with_name(f".{target.name}.link.pid{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    os.symlink(generation.name, link)
    try:
        os.replace(link, target)
    except BaseException:
        os.unlink(link)
        raise


def _swap_by_pointer(staging: Path, target: Path) -> None:
    generation = target.with_name(f".{target.name}.gen-{uuid.uuid4().hex[:12]}")
    os.replace(staging, generation)
    if target.is_symlink():
        old = target.parent / os.readlink(target)
        _point(target, generation)
        if old.name.startswith(f".{target.name}.gen-"):
            shutil.rmtree(old, ignore_errors=True)
        return
    if target.exists():  # a real folder: set it aside once (two renames; the next writer repairs a death here)
        aside = aside_name(target)
        os.replace(target, aside)
        try:
            _point(target, generation)
        except BaseException:
            os.replace(aside, target)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    else:
        _point(target, generation)


def swap_in(staging: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Put the finished folder `staging` at `target`, replacing what is there in one atomic step."""
    staging, target = Path(staging), Path(target)
    if not target.exists() and not target.is_symlink():
        os.replace(staging, target)  # nothing to replace: one rename
    elif not target.is_symlink() and exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # the old folder, now under the staging name
    else:
        _swap_by_pointer(staging, target)
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
