"""One stage runtime: import, pull and experiment arm steps are stage runs; the CLI's writer list comes from
the registry; only the runtime writes stage status; the store offers drop_rows / replace / set_label."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from sfdata.store import RunDir
from sfdata.synth import make_run

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "raw_countdown.jsonl"


def test_only_the_runtime_writes_stage_status():
    callers = []
    for path in sorted([*ROOT.glob("sfdata/**/*.py"), *ROOT.glob("sftrain/**/*.py"), *ROOT.glob("tui/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "set_stage":
                callers.append(path.relative_to(ROOT).as_posix())
    assert set(callers) == {"sfdata/stage_runtime.py"}


def test_no_bench_imports_the_tests():
    for path in ROOT.glob("bench/*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "tests" or n.startswith("tests.") for n in names), path


def test_writer_commands_come_from_the_registry():
    from sfdata.app.cli.main import COMMANDS, writer_commands
    from sfdata.app.stages import COMMAND_STAGES

    writers, creators = writer_commands()
    assert {
        "questions",
        "generate",
        "grade",
        "reflect",
        "build",
        "import",
        "pull",
        "skills",
        "report",
        "eval",
    } <= writers
    assert creators == {"questions", "import", "pull", "eval"}
    assert writers == {c[1] for c in COMMANDS} & set(COMMAND_STAGES)


def test_import_is_a_stage_run_with_recorded_outputs(tmp_path):
    from sfdata.hub.raw import import_raw

    res = import_raw(FIXTURE, tmp_path / "imp")
    entry = RunDir(tmp_path / "imp").manifest()["stages"]["import"]
    assert entry["status"] == "done" and entry["info"]["questions"] == res.questions
    assert {Path(o[0]).parts[0] for o in entry["outputs"]} >= {"questions.parquet", "rollouts", "grades.parquet"}
    again = import_raw(FIXTURE, tmp_path / "imp")  # the source is outside the run: it runs, and adds nothing
    assert again.rows == res.rows and RunDir(tmp_path / "imp").read("rollouts").height == res.rollouts


def test_pull_of_an_sft_set_is_a_stage_run(tmp_path):
    from sfdata.hub.pull import pull

    src = tmp_path / "sft.jsonl"
    conv = [
        {"role": "user", "content": "Using 1, 2, 3 make 6"},
        {"role": "assistant", "content": "<answer>1+2+3</answer>"},
    ]
    src.write_text(json.dumps({"conversations": conv}) + "\n", encoding="utf-8")
    info = pull(src, tmp_path / "run")
    run = RunDir(tmp_path / "run")
    assert info["kind"] == "sft" and info["traces"] == 1
    stages = run.manifest()["stages"]
    assert stages["pull"]["status"] == "done" and "build" not in stages  # no false "build done"


def test_drop_rows_rewrites_mixed_parts_and_removes_whole_ones(tmp_path):
    run = make_run(tmp_path / "run", n_questions=2, n=2, k=1)
    ro = run.read("rollouts")
    for p in run.files("rollouts"):
        p.unlink()
    first = ro.head(3)
    run.append("rollouts", first)
    run.append("rollouts", ro.slice(3))
    gone_id = first["rollout_id"][0]
    assert run.drop_rows("rollouts", rollout_id=gone_id) == 1
    assert run.read("rollouts").height == ro.height - 1 and gone_id not in run.ids("rollouts")
    assert run.drop_rows("rollouts", variant="no-such-variant") == 0
    n_before = len(run.files("rollouts"))
    assert run.drop_rows("rollouts", question_id=first["question_id"][1]) > 0
    assert len(run.files("rollouts")) <= n_before


def test_replace_and_set_label(tmp_path):
    run = make_run(tmp_path / "run", n_questions=2, n=2, k=1)
    ro = run.read("rollouts")
    assert run.replace("rollouts", ro.head(5), chunk=2) == 5
    assert run.read("rollouts").height == 5 and len(run.files("rollouts")) == 3
    with pytest.raises(ValueError, match="chunk"):
        run.replace("rollouts", ro, chunk=0)
    assert run.read("rollouts").height == 5
    run.set_label("t1", "keep", "good")
    run.set_label("t2", "drop")
    labels = run.set_label("t1", None)  # clears the label, keeps the note
    assert dict(run.read("labels").select("trace_id", "note").iter_rows()) == {"t1": "good", "t2": None}
    assert labels.filter(pl.col("trace_id") == "t1")["label"][0] is None
    with pytest.raises(ValueError, match="keep, drop"):
        run.set_label("t3", "maybe")


def test_arm_steps_are_stage_runs_that_retrain_only_when_their_model_or_inputs_change(tmp_path, monkeypatch):
    import sftrain.sft
    from sfdata.app import experiment as ex
    from sfdata.factory.build import BuildConfig, build_stage

    trained: list[str] = []

    def fake_sft(cfg, log=print):
        out = Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({"seed": cfg.seed}))
        trained.append(out.name)
        return {"steps": 1}

    monkeypatch.setattr(sftrain.sft, "run_sft", fake_sft)
    run = make_run(tmp_path / "run", n_questions=3, n=2, k=1, p_correct=0.7)
    build_stage(run, BuildConfig(formats=("0C",), n=1))
    cfg = ex.ExperimentConfig.from_dict({"arms": ["sf"], "arm": {"sf": {"steps": [{"kind": "sft"}]}}})
    arm = cfg.arm_configs()[0]
    ex.train_arm(run, cfg, arm, log=lambda m: None)
    ex.train_arm(run, cfg, arm, log=lambda m: None)
    assert trained == ["sft"] and run.manifest()["stages"]["sf/sft"]["status"] == "done"
    copy = RunDir(tmp_path / "copy")
    shutil.copytree(run.path, copy.path, copy_function=shutil.copy)
    ex.train_arm(copy, cfg, arm, log=lambda m: None)
    assert trained == ["sft"]  # a copied run keeps its trained steps
    shutil.rmtree(copy.path / "models" / "sf" / "sft")
    ex.train_arm(copy, cfg, arm, log=lambda m: None)
    assert trained == ["sft", "sft"]  # the model folder went missing: trained again
    copy.append("traces", copy.read("traces").head(1).with_columns(pl.lit("x" * 16).alias("trace_id")))
    ex.train_arm(copy, cfg, arm, log=lambda m: None)
    assert trained == ["sft", "sft", "sft"]  # its data changed
