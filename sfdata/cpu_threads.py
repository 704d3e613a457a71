"""The one decision on CPU threads for commands that run torch: made before torch is imported.

Why: the default OpenMP wait policy spins on its barriers. On a shared machine every spinning thread steals
a core from the others, and throughput collapses (the transformers engine on the embedded model measured
36.9 tokens/s quiet, 2.7 tokens/s beside two busy processes on 2 cores; 17.4 with a passive wait policy).
But a passive policy costs about a third of the quiet rate here (each parallel region wakes sleeping threads),
so the policy follows what the CPUs are doing when the process starts:

- others already busy on the CPUs we may use (sampled from /proc/stat for ~0.15 s): `OMP_WAIT_POLICY=PASSIVE`;
- otherwise a short spin, then sleep (`GOMP_SPINCOUNT=20000`, against libgomp's 300,000): the quiet rate of
  the default, and several times the default's rate when neighbours arrive later.

And `os.cpu_count()` is the machine's count, not what a container or `taskset` lets this process use:
`OMP_NUM_THREADS` / `MKL_NUM_THREADS` = the usable CPUs (affinity mask, cgroup v2 `cpu.max` or v1 CFS quota).
A wait policy, spin count or thread count the user set is kept. The OpenMP runtime reads these once, when torch
loads it, so this must run first: `sf` calls it before it imports a command flagged in
`sfdata.app.cli.main.THREADED`, tests/conftest.py does the same. `apply_torch_threads()` then sizes torch's
intra-op and inter-op pools from the same decision; the stage runner records it in the run manifest (`threads`
of each stage entry). Child processes inherit the decision through the environment.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path

PASSIVE = "PASSIVE"
QUIET_SPINCOUNT = "20000"  # libgomp spins this many times before it sleeps (its default: 300,000)
BUSY_MARGIN = 0.25  # CPUs' worth of others' work tolerated before we call the CPUs contended
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ThreadSetup:
    """What was decided, and whether each part came from the user's environment."""

    wait_policy: str
    wait_policy_from_user: bool
    threads: int  # torch intra-op threads (= OMP_NUM_THREADS)
    threads_from_user: bool
    interop_threads: int
    usable_cpus: int  # what this process may use: affinity mask and cgroup quota
    busy_cpus: float | None = None  # others' load on our CPUs at start (None: not sampled: user's policy, no /proc)
    torch_imported_first: bool = False  # torch was loaded before the setup: its OpenMP runtime missed the env

    def record(self) -> dict:
        return asdict(self)


_CURRENT: ThreadSetup | None = None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs allowed by a cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`); None when unlimited/unknown."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        try:
            quota_us = int((root / sub / "cpu.cfs_quota_us").read_text())
            period_us = int((root / sub / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup quota (rounded up), at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        n = min(n, math.ceil(limit))
    return max(1, n)


def _cpu_ticks(cpus: set[int] | None, stat: Path) -> tuple[int, int] | None:
    """(busy, total) jiffies summed over `cpus` (all when None) from /proc/stat; None when unreadable."""
    busy = total = 0
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or (cpus is not None and int(name[3:]) not in cpus):
            continue
        vals = [int(v) for v in rest.split()]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        ticks = sum(vals[:8])  # guest time is already inside user/nice
        total += ticks
        busy += ticks - idle
    return (busy, total) if total else None


def busy_cpus(window: float = 0.15, stat: Path = Path("/proc/stat")) -> float | None:
    """How many CPUs' worth of work other processes are doing on the CPUs this process may use, sampled over
    `window` seconds while this process sleeps; None where /proc/stat cannot tell."""
    try:
        cpus: set[int] | None = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = None
    first = _cpu_ticks(cpus, stat)
    if first is None:
        return None
    time.sleep(window)
    second = _cpu_ticks(cpus, stat)
    if second is None or second[1] <= first[1]:
        return None
    n = len(cpus) if cpus else (os.cpu_count() or 1)
    return n * (second[0] - first[0]) / (second[1] - first[1])


def _user_threads(env: MutableMapping[str, str]) -> int | None:
    try:
        n = int(env.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def setup_cpu_threads(
    env: MutableMapping[str, str] | None = None, cpus: int | None = None, busy: float | None | str = "sample"
) -> ThreadSetup:
    """Set the OpenMP/MKL environment (keeping what the user set) and remember the decision for this process.

    `env`, `cpus` and `busy` are for tests; by default the process environment, `usable_cpus()` and
    `busy_cpus()` (sampled only when the wait policy is ours to choose)."""
    global _CURRENT
    env = os.environ if env is None else env
    n_cpus = cpus or usable_cpus()
    threads = _user_threads(env)
    threads_from_user = threads is not None
    if threads is None:
        threads = n_cpus
        env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("MKL_NUM_THREADS", str(threads))
    policy = env.get("OMP_WAIT_POLICY", "").strip().upper()
    spin = env.get("GOMP_SPINCOUNT", "").strip()
    policy_from_user = bool(policy or spin)
    others: float | None = None
    if policy_from_user:
        policy = policy or f"SPIN({spin})"
    else:
        others = busy_cpus() if busy == "sample" else (None if isinstance(busy, str) else busy)
        # contended: fewer idle CPUs than our threads need (with a little slack for short-lived noise)
        contended = others is None or others > max(0, n_cpus - threads) + BUSY_MARGIN
        if contended:
            policy = env["OMP_WAIT_POLICY"] = PASSIVE
        else:
            env["GOMP_SPINCOUNT"] = QUIET_SPINCOUNT
            policy = f"SPIN({QUIET_SPINCOUNT})"
    setup = ThreadSetup(
        wait_policy=policy,
        wait_policy_from_user=policy_from_user,
        threads=threads,
        threads_from_user=threads_from_user,
        interop_threads=max(1, min(threads, n_cpus)),
        usable_cpus=n_cpus,
        busy_cpus=None if others is None else round(others, 2),
        torch_imported_first="torch" in sys.modules,
    )
    if env is os.environ:
        _CURRENT = setup
    return setup


def current() -> ThreadSetup | None:
    """This process's setup, when one was made (None in a library use without `sf`)."""
    return _CURRENT


def apply_torch_threads(threads: int | None = None) -> ThreadSetup:
    """Size torch's thread pools from this process's setup (made now if none was); `threads` overrides.

    Call right after importing torch for CPU work. The inter-op pool can only be sized before its first use,
    so a later call leaves it as it is."""
    import torch

    setup = current() or setup_cpu_threads()
    n = int(threads or setup.threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    if torch.get_num_interop_threads() != setup.interop_threads:
        try:
            torch.set_num_interop_threads(setup.interop_threads)
        except RuntimeError:  # already sized or started: torch allows one call, before any inter-op work
            pass
    return setup
