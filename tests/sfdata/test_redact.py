"""Credentials in a config never reach a file of the run or its Hub folder, nor the terminal."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from sfdata.redact import MASK, redact, redact_text
from sfdata.synth import make_run

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-FAKEKEY-0123456789abcdef"
PASSWORD = "hunter2-PASSWORD-42"
TOKEN = "hf_FAKETOKENabcdefghijklmnop"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sf(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "HF_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "sfdata.app.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_fake_credentials_appear_in_no_file_of_the_run_or_hub_folder(tmp_path):
    run = make_run(tmp_path / "run", n_questions=3)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f"""
[run]
dir = "{run.path}"
[generate]
model = "fake"
engine = "openai"
n = 1
variants = ["original"]
engine_options = {{ base_url = "http://alice:{PASSWORD}@127.0.0.1:{_closed_port()}/v1", api_key = "{KEY}", retries = 0, timeout = 2 }}
[build]
formats = ["0C", "*C"]
"""
    )
    failed = sf("run", str(cfg))  # generate cannot reach the server: its error quotes the URL
    assert failed.returncode == 1 and "cannot reach" in failed.stderr
    built = sf("run", str(cfg), "--only", "build")
    assert built.returncode == 0, built.stderr
    pushed = sf("push", str(run.path), "me/x", "--dry-run", "--token", TOKEN)
    assert pushed.returncode == 0, pushed.stderr
    hub_files = [p for p in run.path.rglob("*") if "hub" in p.parts and p.is_file()]
    assert any(p.name == "README.md" for p in hub_files)  # the card was written
    umask = os.umask(0)
    os.umask(umask)
    for p in run.path.rglob("*"):  # the run, its exports and the Hub folder follow the umask (not 0600)
        if "hub" in p.parts:
            want = (0o777 if p.is_dir() else 0o666) & ~umask
            assert stat.S_IMODE(p.stat().st_mode) == want, p
    manifest = run.manifest()
    assert manifest["stages"]["generate"]["status"] == "failed"
    assert MASK in manifest["stages"]["generate"]["error"]
    assert manifest["config"]["generate"]["engine_options"]["api_key"] == MASK
    secrets = (KEY, PASSWORD, TOKEN)
    for p in run.path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            leaked = [s for s in secrets if s.encode() in data]
            assert not leaked, f"{leaked} in {p}"
    for proc in (failed, built, pushed):
        assert not any(s in proc.stdout + proc.stderr for s in secrets)


def test_redact_masks_keys_urls_and_known_values_but_not_lookalikes():
    cfg = {
        "engine_options": {"api_key": "sk-abcdefgh12345", "base_url": "https://bob:pw12345@host:1/v1"},
        "hf_token": "x" * 10,
        "max_tokens": 512,
        "eos_token": "</s>",
        "password": None,
    }
    out = redact(cfg)
    assert out["engine_options"] == {"api_key": MASK, "base_url": f"https://{MASK}@host:1/v1"}
    assert out["hf_token"] == MASK and out["max_tokens"] == 512 and out["eos_token"] == "</s>"
    assert out["password"] is None
    text = redact_text("401 for key sk-abcdefgh12345 at https://bob:pw12345@host:1/v1 ?api_key=zzz Bearer abcdefghij")
    assert "sk-abcdefgh12345" not in text and "pw12345" not in text and "zzz" not in text and "abcdefghij" not in text
