"""One writer per run: an OS file lock (`flock`) on `RUN/.lock`, held for a whole writing command.

Two `sf generate` on one run used to double the rollouts, two `sf build` doubled the traces and
concurrent `set_stage` calls lost manifest updates. The lock is advisory but every writer in this
package takes it; the OS drops it when the holder dies (even `kill -9`), so a crash never leaves a
run locked. It is re-entrant within a process (the CLI command and the stage it runs both ask).

Short read-modify-write updates (manifest, labels) take a second, blocking lock per file, so they
never lose each other's changes and the inspector can still save labels while a stage runs.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"
_held: dict[str, list[int]] = {}  # lock path -> [fd, depth]
_guard = threading.RLock()


class RunBusyError(OSError):
    """Another process is writing to this run."""

    def __init__(self, message: str):
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def default_owner() -> str:
    argv = [Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]]
    return " ".join(argv)[:200]


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 512).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, cmd = text.partition("\t")
    return f"pid {pid or '?'}: {cmd or 'unknown command'}"


@contextmanager
def run_lock(folder: str | os.PathLike[str], owner: str | None = None, wait: float = 0.0) -> Iterator[None]:
    """Hold the writer lock of run `folder`; raise RunBusyError (naming pid and command) if another holds it.

    `wait` seconds are spent retrying before giving up (0: fail at once).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.join(os.path.realpath(folder), LOCK_NAME)  # the run may be a link; its .lock may not
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            _release(key)
        return
    fd = _open_no_link(key)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            who = _holder(fd)
            os.close(fd)
            raise RunBusyError(
                f"run {folder} is busy ({who}); wait for it to finish or stop it (one writer per run)"
            ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\t{owner or default_owner()}\n".encode(), 0)
    with _guard:
        _held[key] = [fd, 1]
    _clean_run(folder)
    try:
        yield
    finally:
        _release(key)


def _open_no_link(path: str | os.PathLike[str]) -> int:
    """Open (create) a lock file, never through a symbolic link: writing the pid would truncate its target."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as e:
        if os.path.islink(path):
            raise OSError(f"{path} is a symbolic link; refusing to lock through it (remove the link)") from None
        raise e


def _release(key: str) -> None:
    with _guard:
        entry = _held[key]
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[key]
    fcntl.flock(entry[0], fcntl.LOCK_UN)
    os.close(entry[0])


def holds_lock(folder: str | os.PathLike[str]) -> bool:
    """Whether this process holds the writer lock of run `folder`."""
    with _guard:
        return os.path.join(os.path.realpath(folder), LOCK_NAME) in _held


def _clean_run(folder: Path) -> None:
    """As the only writer, remove temp files/folders that killed writers left (and restore a half-swapped table)."""
    from sfdata.store.tempfiles import clean_stale_temps

    clean_stale_temps(folder)
    for sub in folder.iterdir():  # never into a linked folder: its temps belong to whatever it points at
        if not sub.is_symlink() and sub.is_dir() and not sub.name.startswith("."):
            clean_stale_temps(sub)


@contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """A short blocking lock for one read-modify-write of `path` (lock file `.lock.NAME` beside it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_no_link(path.with_name(f".lock.{path.name}"))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock
