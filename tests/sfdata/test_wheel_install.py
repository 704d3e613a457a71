"""An installed wheel (not an editable install) carries the LICENSE and finds its named queries: build the wheel from a
copy of the source, install it with --no-deps next to the dependencies we already have, and run
`sf query skill_frequency` from outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def test_installed_wheel_runs_a_named_query_outside_the_source_tree(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".venv")
    for name in ("sfdata", "sftrain", "tui"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "w")]
    subprocess.run([*build, str(src)], check=True, env=env, cwd=tmp_path, timeout=300)
    (wheel,) = (tmp_path / "w").glob("skillfactory-*.whl")
    with zipfile.ZipFile(wheel) as zf:  # the license travels with the wheel (PEP 639 license-files)
        names = zf.namelist()
        (lic,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert b"Apache License" in zf.read(lic) and b"Version 2.0" in zf.read(lic)
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert "License-Expression: Apache-2.0" in meta and "License-File: LICENSE" in meta
        assert "sfdata/hub/data/hub_licenses.txt" in names  # the card's vendored license list
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, env=env, timeout=300)
    assert (site / "sfdata" / "named_queries" / "skill_frequency.sql").is_file()

    from sfdata.factory.build import BuildConfig, build_stage
    from sfdata.skills import skills_stage
    from sfdata.synth import make_run

    run = make_run(tmp_path / "run", n_questions=2, n=1, k=1, p_correct=1.0)
    build_stage(run, BuildConfig(formats=("0C",), n=1))
    skills_stage(run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sfdata, sys; from sfdata.app.cli.main import main; print(sfdata.__file__); sys.exit(main(sys.argv[1:]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "query", "skill_frequency", "--run", str(run.path), "--format", "csv"],
        env={**env, "PYTHONPATH": str(site)},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith(str(site))  # the installed copy, not the source tree
    header, *rows = out.stdout.splitlines()[1:]
    assert header.startswith("format,traces") and rows and rows[0].startswith("0C,")
