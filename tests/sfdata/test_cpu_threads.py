"""CPU thread setup: a wait policy chosen from how busy the CPUs are (passive when contended, a short spin when
quiet) and threads from the usable CPUs, decided before torch is imported in every torch-running `sf` command,
recorded in the manifest, and never over the user's own settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sfdata.app.cli.main import COMMANDS, THREADED
from sfdata.cpu_threads import QUIET_SPINCOUNT, busy_cpus, cgroup_cpu_limit, setup_cpu_threads, usable_cpus
from tests.helpers import tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]
OMP_VARS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")

# Runs `sf ARGS...` in this process and reports what the environment said when torch and the command's module
# were first looked up (an import, or an earlier find_spec: the stricter moment), the setup this process made, and torch's pool sizes.
PROBE = r"""
import importlib.abc, json, os, sys
seen = {}
watch = {"torch", sys.argv[1]}

class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in watch and name not in seen:
            seen[name] = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
        return None

sys.meta_path.insert(0, Probe())
from sfdata.app.cli.main import main
from sfdata.cpu_threads import current
try:
    rc = main(sys.argv[2:])
except SystemExit as e:  # --help
    rc = e.code
torch = sys.modules.get("torch")
print(json.dumps({
    "rc": rc, "seen": seen, "setup": current() and current().record(), "torch_imported": torch is not None,
    "torch": torch and [torch.get_num_threads(), torch.get_num_interop_threads()],
}))
"""


def _env(**omp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OMP_VARS}  # conftest set them for this process
    env.update(omp, PYTHONPATH=str(ROOT))
    return env


def _probe(module: str, args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, module, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_busy_cpus_contended_at_start_get_a_passive_policy_and_the_usable_cpus():
    env: dict[str, str] = {}
    s = setup_cpu_threads(env, cpus=3, busy=1.0)  # one CPU's worth of others' work: our 3 threads won't fit
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}
    assert (s.wait_policy, s.wait_policy_from_user, s.threads, s.threads_from_user) == ("PASSIVE", False, 3, False)
    assert s.interop_threads == 3 and s.usable_cpus == 3 and s.busy_cpus == 1.0


def test_quiet_cpus_at_start_get_a_short_spin_not_the_default_one():
    env: dict[str, str] = {}
    s = setup_cpu_threads(env, cpus=2, busy=0.1)  # noise below the margin is quiet
    assert env == {"GOMP_SPINCOUNT": QUIET_SPINCOUNT, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert s.wait_policy == f"SPIN({QUIET_SPINCOUNT})" and not s.wait_policy_from_user
    # spare CPUs beyond our threads absorb others' work: 1 thread on 4 CPUs beside 2 busy ones is not contended
    env = {"OMP_NUM_THREADS": "1"}
    assert setup_cpu_threads(env, cpus=4, busy=2.0).wait_policy.startswith("SPIN")
    # unknown load (no /proc/stat): the safe side
    assert setup_cpu_threads({}, cpus=2, busy=None).wait_policy == "PASSIVE"


def test_busy_cpus_counts_others_work_from_proc_stat(tmp_path, monkeypatch):
    cpus = sorted(os.sched_getaffinity(0))
    real = busy_cpus(window=0.1)
    assert real is not None and 0.0 <= real <= len(cpus)
    stat = tmp_path / "stat"

    def fake_sleep(_):
        # in the window every usable CPU did 60 busy and 40 idle jiffies more: 0.6 CPUs' worth each
        stat.write_text("cpu 0 0 0 0\n" + "".join(f"cpu{c} 70 0 0 50 0 0 0 0\n" for c in cpus))

    stat.write_text("cpu 0 0 0 0\n" + "".join(f"cpu{c} 10 0 0 10 0 0 0 0\n" for c in cpus))
    monkeypatch.setattr("sfdata.cpu_threads.time.sleep", fake_sleep)
    assert busy_cpus(stat=stat) == pytest.approx(0.6 * len(cpus))
    assert busy_cpus(stat=tmp_path / "missing") is None


def test_a_users_spin_count_is_their_policy():
    env = {"GOMP_SPINCOUNT": "1000"}
    s = setup_cpu_threads(env, cpus=2, busy=2.0)
    assert "OMP_WAIT_POLICY" not in env and s.wait_policy == "SPIN(1000)" and s.wait_policy_from_user
    assert s.busy_cpus is None  # not sampled: nothing to decide


def test_the_users_settings_are_kept():
    env = {"OMP_WAIT_POLICY": "active", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2"}
    s = setup_cpu_threads(env, cpus=8)
    assert env == {"OMP_WAIT_POLICY": "active", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2"}
    assert (s.wait_policy, s.wait_policy_from_user, s.threads, s.threads_from_user) == ("ACTIVE", True, 1, True)
    assert s.interop_threads == 1


def test_usable_cpus_follow_the_cgroup_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.5
    assert usable_cpus(tmp_path) == min(len(os.sched_getaffinity(0)), 2)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    v1 = tmp_path / "cpu"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.0 and usable_cpus(tmp_path) == 1
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path) is None and usable_cpus(tmp_path) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("name", sorted(THREADED))
def test_every_threaded_command_sets_up_before_its_module_is_imported(name):
    module = next(c.module for c in COMMANDS if c.name == name)
    out = _probe(module, [name, "--help"], _env())
    assert out["rc"] == 0
    seen = out["seen"][module]  # so before anything it imports, torch included
    assert seen["OMP_WAIT_POLICY"] == "PASSIVE" or seen["GOMP_SPINCOUNT"] == QUIET_SPINCOUNT
    assert out["seen"][module]["OMP_NUM_THREADS"] == str(usable_cpus())
    assert out["setup"]["wait_policy_from_user"] is False and out["setup"]["torch_imported_first"] is False


@pytest.fixture(scope="module")
def questions_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("threads") / "run"
    out = _probe("sfdata.app.cli.questions", ["questions", str(run), "--n", "2"], _env())
    assert out["rc"] == 0 and out["setup"] is None and not out["torch_imported"]  # no torch, no setup
    return run


def _generate(questions: Path, tmp_path: Path, env: dict[str, str]) -> tuple[dict, dict]:
    run = tmp_path / "run"
    shutil.copytree(questions, run)  # a run of its own: a resumed generate with nothing left would load no model
    args = ["generate", str(run), "--model", str(tiny_model_dir()), "--engine", "transformers"]
    args += ["--max-tokens", "4", "--n", "1", "--variants", "original"]
    out = _probe("sfdata.app.cli.generate", args, env)
    assert out["rc"] == 0
    return out, json.loads((run / "manifest.json").read_text())["stages"]["generate"]["threads"]


def test_generate_imports_torch_after_the_setup_and_records_it(questions_run, tmp_path):
    out, record = _generate(questions_run, tmp_path, _env())
    n = usable_cpus()
    policy = out["setup"]["wait_policy"]  # passive or a short spin, by the CPUs' load at start
    chosen = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None}
    if policy != "PASSIVE":
        chosen = {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": QUIET_SPINCOUNT}
    assert out["torch_imported"] and out["seen"]["torch"] == {**chosen, "OMP_NUM_THREADS": str(n)}
    assert out["torch"] == [n, n]
    assert record == out["setup"] and record["threads"] == n and record["busy_cpus"] is not None
    assert not record["wait_policy_from_user"] and not record["threads_from_user"]


def test_generate_keeps_an_explicit_user_setting(questions_run, tmp_path):
    out, record = _generate(questions_run, tmp_path, _env(OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1"))
    assert out["torch_imported"] and out["seen"]["torch"] == {
        "OMP_WAIT_POLICY": "ACTIVE",
        "OMP_NUM_THREADS": "1",
        "GOMP_SPINCOUNT": None,
    }
    assert out["torch"] == [1, 1]
    assert record["wait_policy"] == "ACTIVE" and record["wait_policy_from_user"]
    assert record["threads"] == 1 and record["threads_from_user"]
