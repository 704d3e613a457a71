"""Temp files and folders for atomic writes: created with the user's umask, named after their writer.

`tempfile.mkstemp` makes 0600 files and `mkdtemp` 0700 folders, so every table, export and Hub
folder ended up private whatever the umask. Here the kernel applies the umask (`os.open(..., 0o666)`),
and each temp name carries the writer's pid, so the next write in that folder can delete the temps
a killed writer left behind without touching a live writer's.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

_TEMP = re.compile(r"^\..+\.pid(\d+)\.[0-9a-f]{8}\.tmp$")
_OLD = re.compile(r"^\.(.+)\.old\.pid\d+\.[0-9a-f]{8}\.tmp$")


def new_temp_file(path: Path) -> Path:
    """Create an empty temp file beside `path` (mode 0666 minus the umask); the caller replaces `path` with it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    tmp = path.with_name(f".{path.name}.pid{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o666))
    return tmp


def new_temp_dir(parent: Path, prefix: str) -> Path:
    """A fresh folder under `parent` (mode 0777 minus the umask), named for this process."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(parent)
    tmp = parent / f".{prefix}.pid{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(mode=0o777)
    return tmp


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else by a set-and-restore."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(folder: Path) -> None:
    """Give every file and folder under `folder` (itself included) the modes the umask would give.

    Libraries we save through (safetensors writes `model.safetensors` 0600) pick their own modes; files
    this toolkit creates should be shared like any other file the user makes. Executable bits are kept."""
    mask = current_umask()
    folder = Path(folder)
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                base = 0o777 if os.stat(p).st_mode & 0o111 else 0o666
                os.chmod(p, base & ~mask)


def aside_name(path: Path) -> Path:
    """Where `path` is moved while its replacement is swapped in (restored by the next write if left)."""
    path = Path(path)
    return path.with_name(f".{path.name}.old.pid{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temps(folder: Path) -> list[Path]:
    """Delete temp files/folders in `folder` whose writer process is gone; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP.match(e.name)
        if not m or pid_alive(int(m.group(1))):
            continue
        old = _OLD.match(e.name)
        if old and not os.path.lexists(Path(folder) / old.group(1)):
            # killed between "move the old table aside" and "move the new one in": put the old one back
            os.replace(e.path, Path(folder) / old.group(1))
            continue
        try:
            if e.is_dir(follow_symlinks=False):  # a link is unlinked below, never deleted through
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                os.unlink(e.path)
            removed.append(Path(e.path))
        except FileNotFoundError:
            pass
    return removed
