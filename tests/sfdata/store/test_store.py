"""Store: canonical schemas, atomic writes, validated reads, DuckDB views, manifest."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from sfdata.store import CorruptFileError, RunDir, SchemaError, stable_id, write_parquet_atomic
from sfdata.store.duck import connect, query
from sfdata.store.parquet import conform, list_parts
from sfdata.store.schemas import GRADES, TABLES


def _grades(n: int, start: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rollout_id": [f"r{i}" for i in range(start, start + n)],
            "question_id": [f"q{i % 3}" for i in range(start, start + n)],
            "extracted_answer": [None if i % 4 == 0 else f"{i} + 1" for i in range(start, start + n)],
            "is_correct": [i % 2 == 0 for i in range(start, start + n)],
            "reason": ["correct" if i % 2 == 0 else "wrong_value" for i in range(start, start + n)],
            "grader": ["countdown/1"] * n,
        }
    )


def _rollouts(n: int, start: int = 0) -> pl.DataFrame:
    now = datetime.now(UTC)
    return pl.DataFrame(
        {
            "rollout_id": [f"r{i}" for i in range(start, start + n)],
            "question_id": [f"q{i % 3}" for i in range(start, start + n)],
            "task": ["countdown"] * n,
            "variant": ["original"] * n,
            "sample_idx": list(range(n)),
            "prompt": ["p"] * n,
            "response": [f"<answer>{i}</answer>" for i in range(n)],
            "model": ["m"] * n,
            "engine": ["transformers"] * n,
            "temperature": [0.7] * n,
            "top_p": [1.0] * n,
            "max_tokens": [64] * n,
            "seed": [0] * n,
            "prompt_tokens": [5] * n,
            "completion_tokens": [7] * n,
            "finish_reason": ["stop"] * n,
            "latency_s": [0.1] * n,
            "created_at": [now] * n,
        }
    )


def test_stable_id_is_order_independent_for_dicts_and_distinguishes_inputs():
    assert stable_id("q", {"a": 1, "b": 2}) == stable_id("q", {"b": 2, "a": 1})
    assert stable_id("q", 1) != stable_id("q", 2)
    assert stable_id("q", 1) != stable_id("q", "1")  # JSON keeps int and str apart
    assert len(stable_id("x")) == 16


def test_single_table_round_trip_keeps_schema(tmp_path):
    run = RunDir(tmp_path / "run").init({"k": 1})
    run.write("grades", _grades(10))
    back = run.read("grades")
    assert back.schema == pl.Schema(GRADES)
    assert back.height == 10
    assert back["extracted_answer"].null_count() == 3
    assert run.ids("grades") == {f"r{i}" for i in range(10)}


def test_parts_table_appends_and_reads_all_parts(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.append("rollouts", _rollouts(5))
    run.append("rollouts", _rollouts(5, start=5))
    assert run.append("rollouts", _rollouts(0)) is None  # empty batch writes nothing
    assert len(run.files("rollouts")) == 2
    df = run.read("rollouts")
    assert df.height == 10 and df["rollout_id"].n_unique() == 10


def test_missing_column_is_a_clear_schema_error(tmp_path):
    run = RunDir(tmp_path / "run").init()
    with pytest.raises(SchemaError, match="missing column.*is_correct"):
        run.write("grades", _grades(3).drop("is_correct"))
    assert not run.has("grades")


def test_wrong_type_is_a_schema_error():
    bad = _grades(2).with_columns(pl.lit("yes").alias("is_correct"))
    with pytest.raises(SchemaError, match="types"):
        conform(bad, GRADES, "grades")


def test_layout_misuse_is_rejected(tmp_path):
    run = RunDir(tmp_path / "run").init()
    with pytest.raises(ValueError, match="single-file"):
        run.append("grades", _grades(1))
    with pytest.raises(ValueError, match="parts table"):
        run.write("rollouts", _rollouts(1))


def test_failed_write_leaves_no_partial_file_and_keeps_old(tmp_path, monkeypatch):
    target = tmp_path / "grades.parquet"
    write_parquet_atomic(_grades(3), target)
    before = target.read_bytes()

    def boom(self, *a, **k):
        Path(a[0]).write_bytes(b"PAR1 partial")  # simulate a half-written temp file
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(_grades(5), target)
    assert target.read_bytes() == before  # old file intact
    assert [p.name for p in tmp_path.iterdir()] == ["grades.parquet"]  # temp file removed


def test_kill_during_write_never_exposes_a_partial_part(tmp_path):
    """A writer killed with SIGKILL mid-loop leaves only complete, readable part files."""
    run_dir = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import sys, polars as pl
        sys.path.insert(0, {str(Path(__file__).parents[3])!r})
        from sfdata.store import RunDir
        from tests.sfdata.store.test_store import _rollouts
        run = RunDir({str(run_dir)!r}).init()
        i = 0
        while True:
            run.append("rollouts", _rollouts(2000, start=i)); i += 2000
            print(i, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    # wait for a few committed parts, then kill hard
    for _ in range(3):
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    run = RunDir(run_dir)
    parts = list_parts(run.table_path("rollouts"))
    assert len(parts) >= 3
    df = run.read("rollouts")  # raises if any committed part were partial
    assert df.height == 2000 * len(parts)


def test_corrupt_part_is_refused_with_its_path_or_skipped(tmp_path):
    run = RunDir(tmp_path / "run").init()
    good = run.append("rollouts", _rollouts(4))
    bad = run.table_path("rollouts") / "part-99999999999999999999-deadbeef.parquet"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])  # truncated copy
    with pytest.raises(CorruptFileError) as ei:
        run.read("rollouts")
    assert str(bad) in str(ei.value)
    with pytest.raises(CorruptFileError):
        connect(run)
    with pytest.warns(UserWarning, match="skipping"):
        df = run.read("rollouts", on_corrupt="skip")
    assert df.height == 4


def test_file_with_wrong_columns_is_refused(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.table_path("traces").mkdir(parents=True)
    pl.DataFrame({"x": [1]}).write_parquet(run.table_path("traces") / "part-1.parquet")
    with pytest.raises(CorruptFileError, match="missing column"):
        run.read("traces")


def test_duckdb_views_exist_for_every_table_even_when_empty(tmp_path):
    run = RunDir(tmp_path / "run").init()
    con = connect(run)
    for table in TABLES:
        assert con.sql(f"select count(*) from {table}").fetchall()[0][0] == 0
    con.close()


def test_duckdb_reads_parts_and_joins_grades(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.append("rollouts", _rollouts(6))
    run.write("grades", _grades(6))
    out = query(run, "select count(*) as n, sum(is_correct::int) as ok from graded")
    assert out.row(0) == (6, 3)
    out = query(run, "select count(*) from graded where question_id = ?", ["q0"])
    assert out.item() == 2


def test_paths_with_quotes_are_safe(tmp_path):
    run = RunDir(tmp_path / "it's a run").init()
    run.write("grades", _grades(2))
    assert query(run, "select count(*) from grades").item() == 2


def test_manifest_records_config_versions_and_stages(tmp_path):
    run = RunDir(tmp_path / "run").init({"task": "countdown"})
    run.set_stage("generate", "running", rows=0)
    run.set_stage("generate", "done", rows=12)
    m = json.loads(run.manifest_path.read_text())
    assert m["config"] == {"task": "countdown"}
    assert "polars" in m["versions"] and "python" in m["versions"]
    assert m["stages"]["generate"]["status"] == "done" and m["stages"]["generate"]["rows"] == 12
    assert run.stage_status("generate") == "done" and run.stage_status("reflect") is None
    # re-init keeps stage history
    RunDir(run.path).init()
    assert RunDir(run.path).stage_status("generate") == "done"


def test_a_stage_that_failed_then_succeeded_keeps_no_stale_error(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.set_stage("experiment", "failed", error="ImportError: x")
    assert run.manifest()["stages"]["experiment"]["error"] == "ImportError: x"
    run.set_stage("experiment", "running")
    run.set_stage("experiment", "done", rows=3)
    entry = run.manifest()["stages"]["experiment"]
    assert entry["status"] == "done" and entry["rows"] == 3 and "error" not in entry


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    run = RunDir(tmp_path / "run").init()
    run.manifest_path.write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        run.manifest()
