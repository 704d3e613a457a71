"""Project habits that no other test guards: the pre-commit hooks run `make lint`'s commands, bench scripts
import the installed package, and no tracked file cites documents outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _lint_commands() -> list[str]:
    """The commands of the Makefile's `lint` target, without the `$(BIN)/` prefix."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("lint:"))
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        out.append(line.strip().removeprefix("$(BIN)/"))
    return out


def test_pre_commit_hooks_are_the_lint_targets_commands():
    cfg = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (repo,) = cfg["repos"]  # one local repository: nothing to download
    assert repo["repo"] == "local"
    hooks = repo["hooks"]
    assert all(h["language"] == "system" and h["pass_filenames"] is False for h in hooks)
    assert all({"id", "name", "entry"} <= h.keys() for h in hooks)
    assert [h["entry"] for h in hooks] == _lint_commands()
    assert "mypy" in _lint_commands()


def _tracked(*patterns: str) -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z", *patterns], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / n for n in names.decode().split("\0") if n]


def test_bench_scripts_import_the_installed_package_never_tests():
    scripts = sorted((ROOT / "bench").glob("*.py"))
    assert len(scripts) > 5
    bad = re.compile(r"sys\.path\.(insert|append)|^\s*(from tests\b|import tests\b)|PYTHONPATH", re.M)
    offenders = {p.name: m.group(0) for p in scripts if (m := bad.search(p.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_no_tracked_file_cites_documents_outside_the_repository():
    needles = ("shared/" + "DESIGN.md", "../" + "shared")  # spelled in two parts so this file does not match
    hits = []
    for path in _tracked():
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [f"{path.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert hits == []
