"""One stage runner: stage records, shared bookkeeping for `sf run` and single-stage commands, declared needs."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pytest

from sfdata.app.cli.main import main
from sfdata.app.pipeline import run_pipeline
from sfdata.app.stages import STAGES, get_stage, run_stage
from sfdata.reflect import ReflectConfig, reflect_stage
from sfdata.store import RunDir
from sfdata.synth import make_run

ROOT = Path(__file__).parents[3]


def test_every_stage_record_resolves_and_declares_its_tables():
    from sfdata.store.schemas import TABLES

    for stage in STAGES.values():
        assert callable(stage.function()), stage.name
        cls = stage.config_class()
        assert cls is None or hasattr(cls, "__dataclass_fields__"), stage.name
        assert stage.writes, stage.name
        assert all(n in STAGES for n in stage.needs), stage.name
        assert all(t in TABLES or t.replace("/", "").isidentifier() for t in stage.reads + stage.writes), stage.name
        assert (stage.function().__doc__ or "").strip(), f"{stage.entry} has no docstring"


def test_stages_are_named_in_one_registry_only():
    """The pipeline and the CLI name no stage module by string; only the registries do."""
    for path in [ROOT / "sfdata" / "app" / "pipeline.py", *(ROOT / "sfdata" / "app" / "cli").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "sftrain.sft:" not in text and '"sftrain.sft"' not in text, path
        assert "set_stage(" not in text, f"{path} repeats the manifest bookkeeping"


def test_no_package_imports_the_cli_upward():
    """report/sftrain print through sfdata.output, never through sfdata.app.cli."""
    for path in [*(ROOT / "sfdata").rglob("*.py"), *(ROOT / "sftrain").rglob("*.py")]:
        if path.relative_to(ROOT).parts[:3] == ("sfdata", "app", "cli") or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sfdata.app.cli"):
                pytest.fail(f"{path} imports {node.module}")


def test_reflect_needs_grades_and_does_not_grade_as_a_side_effect(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3, n=1, k=1)
    run.table_path("grades").unlink()
    with pytest.raises(FileNotFoundError, match="reflect needs grade first.*sf grade"):
        run_stage(run, "reflect", ReflectConfig(k=1))
    assert not run.has("grades")  # nothing graded behind the user's back
    # stale grades (a rollout added after grading) are an error inside the stage, recorded as failed
    run = make_run(tmp_path / "s", n_questions=3, n=1, k=1)
    extra = run.read("rollouts").head(1).with_columns(pl.lit("f" * 16).alias("rollout_id"))
    run.append("rollouts", extra)
    with pytest.raises(FileNotFoundError, match="1 of .* rollouts .* have no grade"):
        run_stage(run, "reflect", ReflectConfig(k=1))
    assert run.stage_status("reflect") == "failed"
    with pytest.raises(FileNotFoundError, match="no grade"):
        reflect_stage(run, ReflectConfig(k=1))


def test_single_stage_command_and_sf_run_share_bookkeeping(tmp_path, capsys):
    run = make_run(tmp_path / "r", n_questions=6, n=2, k=1, p_correct=0.5, seed=3)
    assert main(["grade", str(run.path)]) == 0
    entry = run.manifest()["stages"]["grade"]
    assert entry["status"] == "done" and entry["config_hash"] and entry["inputs"] and entry["info"]["graded"] == 48
    capsys.readouterr()
    assert main(["grade", str(run.path)]) == 0
    assert "done already" in capsys.readouterr().out
    # a build from the command line is the same stage record as [build] in a config: sf run skips it
    assert main(["build", str(run.path), "--formats", "*C", "--n", "2"]) == 0
    out = run_pipeline({"run": {"dir": str(run.path)}, "grade": {}, "build": {"formats": ["*C"], "n": 2}}, log=print)
    assert out["stages"] == {"grade": {"skipped": True}, "build": {"skipped": True}}
    # new rollouts change grade's inputs: grade runs again, and so does build (grades changed)
    extra = run.read("rollouts").head(2).with_columns(pl.Series("rollout_id", ["a" * 16, "b" * 16]))
    run.append("rollouts", extra)
    out = run_pipeline({"run": {"dir": str(run.path)}, "grade": {}, "build": {"formats": ["*C"], "n": 2}}, log=print)
    assert out["stages"]["grade"]["graded"] == 50 and "written" in out["stages"]["build"]


def test_a_stage_key_records_one_entry_per_arm(tmp_path):
    run = make_run(tmp_path / "r", n_questions=2, n=1, k=1)
    run_stage(run, get_stage("skills"), key="rl_only/skills")
    assert run.manifest()["stages"]["rl_only/skills"]["status"] == "done"
    assert run_stage(run, "skills", key="rl_only/skills") == {"skipped": True}


def test_stage_config_file_section_with_cli_flags_on_top(tmp_path):
    from sfdata.app.cli._common import stage_config
    from sfdata.app.cli.main import build_parser

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[run]\nmodel = "m1"\nengine = "transformers"\n[reflect]\nk = 5\ntemperature = 0.3\n')
    parser, _ = build_parser("reflect")
    args = parser.parse_args([str(tmp_path), "--config", str(cfg_file), "--k", "7", "--no-force-verdict"])
    cfg = stage_config(args, "reflect")
    assert (cfg.k, cfg.temperature, cfg.model, cfg.engine, cfg.force_verdict) == (7, 0.3, "m1", "transformers", False)
    assert (cfg.max_tokens, cfg.chunk) == (256, 32)  # defaults from the dataclass, written once


def test_questions_command_records_its_stage(tmp_path):
    assert main(["questions", str(tmp_path / "q"), "--n", "3", "--low", "1", "--high", "20"]) == 0
    run = RunDir(tmp_path / "q")
    assert run.read("questions").height == 3 and run.stage_status("questions") == "done"
    assert main(["questions", str(tmp_path / "q"), "--n", "0"]) == 1


def test_every_shipped_config_builds_through_the_stage_records():
    from sfdata.app.pipeline import load_config, section_for

    for path in sorted((ROOT / "configs").glob("*.toml")):
        cfg = load_config(path)
        built = {s.name: s.make_config(section_for(cfg, s)) for s in STAGES.values() if s.name in cfg}
        assert built, path


def test_nothing_below_the_application_layer_names_it_in_any_spelling():
    """`import sfdata.app.x`, `from sfdata.app import x`, `import_module("sfdata.app...")` or a "mod:func" entry
    string anywhere outside sfdata/app/ (and tui/cli.py, `sf inspect`'s own command module) is an upward
    reference. import-linter checks import statements; this also catches strings."""
    allowed = {ROOT / "sfdata" / "app", ROOT / "tui" / "cli.py"}
    offenders = []
    for package in ("sfdata", "sftrain", "tui"):
        for path in (ROOT / package).rglob("*.py"):
            if any(path == a or a in path.parents for a in allowed):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names = [node.value]  # import_module("sfdata.app.x") or a "mod:func" entry
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith(APP_PACKAGES)]
    assert not offenders, offenders


APP_PACKAGES = ("sfdata.app", "tui.cli")


def test_the_dead_code_named_in_the_issue_is_gone_everywhere():
    """Issue 17.5's dead names are defined nowhere (not only absent from the module they used to live in)."""
    dead = {"count_cues_frame", "add_run_arg", "write_table", "write_json_report"}
    defined = [
        f"{path.relative_to(ROOT)}: {node.name}"
        for package in ("sfdata", "sftrain", "tui")
        for path in (ROOT / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in dead
    ]
    assert not defined, defined
