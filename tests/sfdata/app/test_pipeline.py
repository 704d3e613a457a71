"""`sf run`: stages in order from one config, completed stages skipped, changed configs rerun only what is missing."""

from __future__ import annotations

import json

import pytest

from sfdata.app.pipeline import load_config, run_pipeline
from sfdata.store import RunDir
from sfdata.store.duck import connect
from tests.helpers import tiny_model_dir


def config(tmp_path, n: int = 2) -> dict:
    return {
        "run": {"name": "t", "dir": str(tmp_path / "run"), "model": str(tiny_model_dir()), "engine": "transformers"},
        "questions": {"task": "countdown", "n": 2, "level": 3, "seed": 0},
        "generate": {
            "n": n,
            "variants": ["original", "alternatively"],
            "max_tokens": 12,
            "batch_size": 8,
            "fewshot": 1,
        },
        "grade": {},
        "reflect": {"k": 1, "max_tokens": 10, "batch_size": 8},
        "build": {"formats": ["random", "no_reflection"], "n": 2},
        "skills": {},
        "report": {},
    }


def test_run_all_stages_then_skip_then_extend(tmp_path):
    cfg = config(tmp_path)
    logs: list[str] = []
    out = run_pipeline(cfg, log=logs.append)
    assert set(out["stages"]) == {"questions", "generate", "grade", "reflect", "build", "skills", "report"}
    run = RunDir(tmp_path / "run")
    con = connect(run)
    counts = {
        t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("questions", "rollouts", "grades", "reflections", "skills")
    }
    assert counts == {"questions": 2, "rollouts": 8, "grades": 8, "reflections": 8, "skills": counts["skills"]}
    assert counts["skills"] >= 8
    m = run.manifest()
    assert all(m["stages"][s]["status"] == "done" for s in out["stages"]) and "torch" in m["versions"]
    assert list(run.path.rglob("*.png"))  # report plots

    logs.clear()
    again = run_pipeline(cfg, log=logs.append)
    assert all(v == {"skipped": True} for v in again["stages"].values())

    more = config(tmp_path, n=3)  # one more sample per question x variant: only the missing rows are generated
    out3 = run_pipeline(more, log=logs.append)
    gen = out3["stages"]["generate"]
    assert (gen["planned"], gen["existing"], gen["written"]) == (12, 8, 4)
    assert out3["stages"]["questions"] == {"skipped": True}
    ids = run.read("rollouts")["rollout_id"]
    assert ids.n_unique() == ids.len()


def test_load_config_toml_and_yaml_and_errors(tmp_path):
    (tmp_path / "a.toml").write_text('[questions]\ntask = "countdown"\nn = 3\n')
    (tmp_path / "b.yaml").write_text("questions:\n  task: countdown\n  n: 3\n")
    assert load_config(tmp_path / "a.toml") == load_config(tmp_path / "b.yaml")
    (tmp_path / "c.toml").write_text("[questions\n")
    with pytest.raises(ValueError):
        load_config(tmp_path / "c.toml")
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")


def test_unknown_config_key_is_a_clear_error(tmp_path):
    cfg = config(tmp_path)
    cfg["generate"]["samples"] = 3  # typo for n
    with pytest.raises((TypeError, ValueError), match="samples"):
        run_pipeline(cfg, log=lambda s: None)
    st = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]
    assert st["questions"]["status"] == "done"


def test_changed_build_config_replaces_traces(tmp_path):
    from sfdata.synth import make_run

    run = make_run(tmp_path / "run", n_questions=8, n=2, k=1, p_correct=0.5, seed=1)
    cfg = {"run": {"dir": str(run.path)}, "build": {"formats": ["*C"], "n": 2}}
    first = run_pipeline(cfg, log=lambda s: None)["stages"]["build"]
    cfg["build"] = {"formats": ["*C*IC"], "n": 3}
    second = run_pipeline(cfg, log=lambda s: None)["stages"]["build"]
    t = run.read("traces")
    assert first["traces"] > 0 and set(t["format"]) == {"*C*IC"} and t.height == second["traces"]
