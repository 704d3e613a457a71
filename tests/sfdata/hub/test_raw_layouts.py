"""Raw layouts the published sets use (official one-response rows, multi-response rows), their
column spellings, path-independent ids, and one-line errors for unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from sfdata.hub.raw import RESP, import_raw
from sfdata.hub.readers import DataFileError
from sfdata.store import RunDir
from sfdata.tasks.countdown import GRADER_VERSION

FIXTURE = Path(__file__).parents[2] / "fixtures" / "raw_official_layout.jsonl"


def test_official_layout_imports_every_reflection_of_each_response(tmp_path):
    res = import_raw(FIXTURE, tmp_path / "run")
    assert res.bad_rows == [] and res.layout.startswith("official")
    assert (res.questions, res.rollouts, res.reflections) == (2, 5, 15)
    run = RunDir(tmp_path / "run")
    refl = run.read("reflections").join(run.read("rollouts").select("rollout_id", "response"), on="rollout_id")
    per = dict(refl.group_by("response").len().iter_rows())
    assert per["<answer>3 + 5 + 7</answer>"] == 4 and per["<answer>6 * 2 + 4</answer>"] == 2
    grades = run.read("grades")
    # the grade stage's grader id (countdown/N), not countdown/countdown/N
    assert set(grades["grader"]) == {GRADER_VERSION}
    assert grades["is_correct"].sum() == 3 and res.grade_disagreements == 0
    # two rows of one (question, variant) are two samples, not one overwritten
    orig = run.read("rollouts").filter(pl.col("variant") == "original").sort("sample_idx")
    assert orig.group_by("question_id").len()["len"].max() == 2


def test_multi_response_layout_with_a_list_of_reflections_per_response(tmp_path):
    f = tmp_path / "multi.parquet"
    pl.DataFrame(
        {
            "question": ["Using the numbers [3, 5, 7], create an equation that equals 22."],
            "answer": ["22"],
            "prompt_type": ["alternatively"],
            "model_responses__example_annotation": [["<answer>3 * 5 + 7</answer>", "<answer>3 + 5 + 7</answer>"]],
            "model_responses__example_annotation__eval_is_correct": [[True, False]],
            "model_responses__example_annotation_reflection": [
                [["<verdict>Correct</verdict>", "ok <verdict>Correct</verdict>"], ["<verdict>Incorrect</verdict>"]]
            ],
        }
    ).write_parquet(f)
    res = import_raw(f, tmp_path / "run")
    assert res.layout.startswith("multi (") and res.bad_rows == []
    run = RunDir(tmp_path / "run")
    assert set(run.read("rollouts")["variant"]) == {"alternatively"}  # prompt_type read as prompt_variant
    refl = run.read("reflections").join(run.read("rollouts").select("rollout_id", "response"), on="rollout_id")
    assert dict(refl.group_by("response").len().iter_rows()) == {
        "<answer>3 * 5 + 7</answer>": 2,
        "<answer>3 + 5 + 7</answer>": 1,
    }
    assert refl["is_valid"].all()


def test_reflection_lists_that_do_not_line_up_are_bad_rows_not_crashes(tmp_path):
    f = tmp_path / "bad.jsonl"
    row = {
        "question": "Using the numbers [3, 5, 7], create an equation that equals 22.",
        "answer": "22",
        RESP: ["<answer>3 * 5 + 7</answer>", "<answer>3 + 5 + 7</answer>"],
        f"{RESP}_reflection": ["a", "b", "c"],
    }
    f.write_text(json.dumps(row) + "\n")
    res = import_raw(f, tmp_path / "run")
    assert [str(b) for b in res.bad_rows] == ["row 0: 3 reflections for 2 responses"]


def test_import_ids_do_not_depend_on_how_the_path_is_spelled(tmp_path, monkeypatch):
    import shutil

    shutil.copy(FIXTURE, tmp_path / "raw.jsonl")
    monkeypatch.chdir(tmp_path)
    for spelling in ("raw.jsonl", "./raw.jsonl", str(tmp_path / "raw.jsonl")):
        import_raw(spelling, tmp_path / "run")
    run = RunDir(tmp_path / "run")
    assert run.read("rollouts").height == 5 and run.read("reflections").height == 15
    assert run.read("grades").height == 5 and run.read("questions").height == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe not utf-8\n", "not valid UTF-8"),
        (b'{"question": "q"}\nnot json at all\n', "line 2 is not JSON"),
        (b"", "empty file"),
        (b"\n\n", "empty file"),
    ],
)
def test_unreadable_jsonl_is_one_clear_line_naming_the_file(tmp_path, content, message, capsys):
    from sfdata.app.cli.main import main

    f = tmp_path / "in.jsonl"
    f.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as e:
        import_raw(f, tmp_path / "run")
    assert str(f) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()
    capsys.readouterr()
    assert main(["import", str(f), "--run", str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(f) in err and message in err


def test_a_mistyped_local_path_fails_at_once_without_the_hub(tmp_path, monkeypatch):
    def no_hub(*a, **k):
        raise AssertionError("the Hub must not be asked about a local-looking path")

    monkeypatch.setattr("datasets.load_dataset", no_hub)
    for path in ("./nope.jsonl", "nope.parquet", str(tmp_path / "missing"), "data/raw/x"):
        with pytest.raises(FileNotFoundError, match="no such file or folder"):
            import_raw(path, tmp_path / "run")


def test_imported_model_is_the_rows_model_or_an_explicit_source_never_a_shard_name(tmp_path):
    """A shard (`raw/train-00000.parquet`) names no model: rollouts and reflections say `imported:<path>`;
    rows with a `model` column give that model to their rollouts and to the reflections on them."""
    rows = pl.read_ndjson(FIXTURE)
    shard = tmp_path / "raw" / "train-00000.parquet"
    shard.parent.mkdir()
    rows.write_parquet(shard)
    import_raw(shard, tmp_path / "a")
    a = RunDir(tmp_path / "a")
    expected = f"imported:{shard.resolve()}"
    assert set(a.read("rollouts")["model"]) == {expected} and set(a.read("reflections")["model"]) == {expected}

    named = tmp_path / "named" / "train-00000.parquet"
    named.parent.mkdir()
    with_model = rows.with_columns(
        pl.Series("model", [("org/m-a", "org/m-b")[i % 2] for i in range(rows.height)], dtype=pl.String)
    )
    with_model.write_parquet(named)
    import_raw(named, tmp_path / "b")
    b = RunDir(tmp_path / "b")
    refl = b.read("reflections").join(
        b.read("rollouts").select("rollout_id", pl.col("model").alias("rollout_model")), on="rollout_id"
    )
    assert refl.height == 15 and (refl["model"] == refl["rollout_model"]).all()
    assert set(refl["model"]) == {"org/m-a", "org/m-b"}
