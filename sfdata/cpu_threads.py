"""The one decision on CPU threads for commands that run torch: made before torch is imported.

Why: the default OpenMP wait policy spins on its barriers. On a shared machine every spinning thread steals
a core from the others, and throughput collapses (the transformers engine on the embedded model measured
36.9 tokens/s quiet, 2.7 tokens/s beside two busy processes on 2 cores; 17.4 with a passive wait policy).
And `os.cpu_count()` is the machine's count, not what a container or `taskset` lets this process use.

`setup_cpu_threads()` (stdlib only) sets, unless the user already did: `OMP_WAIT_POLICY=PASSIVE`, and
`OMP_NUM_THREADS` / `MKL_NUM_THREADS` = the usable CPUs (affinity mask, cgroup v2 `cpu.max` or v1 CFS quota).
The OpenMP runtime reads these once, when torch loads it, so this must run first: `sf` calls it before it
imports a command flagged in `sfdata.app.cli.main.THREADED`, tests/conftest.py and the Makefile do the same.
`apply_torch_threads()` then sizes torch's intra-op and inter-op pools from the same decision; the
stage runner records it in the run manifest (`threads` of each stage entry).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path

PASSIVE = "PASSIVE"
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


def _user_threads(env: MutableMapping[str, str]) -> int | None:
    try:
        n = int(env.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def setup_cpu_threads(env: MutableMapping[str, str] | None = None, cpus: int | None = None) -> ThreadSetup:
    """Set the OpenMP/MKL environment (keeping what the user set) and remember the decision for this process.

    `env` and `cpus` are for tests; by default the process environment and `usable_cpus()`."""
    global _CURRENT
    env = os.environ if env is None else env
    policy = env.get("OMP_WAIT_POLICY", "").strip()
    policy_from_user = bool(policy)
    if not policy_from_user:
        policy = env["OMP_WAIT_POLICY"] = PASSIVE
    n_cpus = cpus or usable_cpus()
    threads = _user_threads(env)
    threads_from_user = threads is not None
    if threads is None:
        threads = n_cpus
        env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("MKL_NUM_THREADS", str(threads))
    setup = ThreadSetup(
        wait_policy=policy.upper(),
        wait_policy_from_user=policy_from_user,
        threads=threads,
        threads_from_user=threads_from_user,
        interop_threads=max(1, min(threads, n_cpus)),
        usable_cpus=n_cpus,
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
