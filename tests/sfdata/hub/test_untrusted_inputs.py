"""Untrusted inputs stay inside their folder and fail as one line naming the file; JSON Lines are read
as the JSON spec says; reimports are order-free; exports never carry null ids."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from sfdata.app.cli.main import main
from sfdata.hub.raw import import_raw
from sfdata.store import RunDir

FIXTURE = Path(__file__).parents[2] / "fixtures" / "raw_official_layout.jsonl"
RAW_ROW = {"question": "Using the numbers [3, 5, 7], create an equation that equals 22.", "answer": 22,
           "model_responses__mutated_prompts": ["<answer>3 * 5 + 7</answer>"]}  # fmt: skip


def _dataset_with_secret(tmp_path: Path) -> tuple[Path, Path]:
    ds, secret = tmp_path / "ds", tmp_path / "secret"
    ds.mkdir()
    secret.mkdir()
    pl.DataFrame([RAW_ROW]).write_parquet(secret / "s.parquet")
    pl.DataFrame([RAW_ROW]).write_parquet(ds / "mine.parquet")
    return ds, secret


def _card(ds: Path, data_files: str) -> None:
    (ds / "README.md").write_text(f"---\nconfigs:\n- config_name: raw\n  data_files: {data_files}\n---\n")


@pytest.mark.parametrize(
    "pattern", ["../secret/*.parquet", "ABS/secret/*.parquet", "link/*.parquet", "*/../../secret/*"]
)
def test_card_data_files_cannot_leave_the_dataset_folder(tmp_path, capsys, pattern):
    ds, secret = _dataset_with_secret(tmp_path)
    os.symlink(secret, ds / "link")
    _card(ds, pattern.replace("ABS", str(tmp_path)))
    assert main(["import", str(ds), "--run", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "README.md" in err and len(err.strip().splitlines()) == 1
    assert not RunDir(tmp_path / "run").has("rollouts")


def test_a_folder_without_card_ignores_symlinks_out_of_it(tmp_path):
    ds, secret = _dataset_with_secret(tmp_path)
    os.symlink(secret / "s.parquet", ds / "other.parquet")
    from sfdata.hub.readers import folder_files

    assert folder_files(ds, None) == [ds / "mine.parquet"]


@pytest.mark.parametrize(
    "card",
    ["---\nconfigs: [: bad\n---\n", "---\nconfigs: 5\n---\n", "---\nconfigs:\n- 7\n---\n", "---\n- a\n---\n",
     "---\nconfigs:\n- config_name: raw\n  data_files: [{path: 5}]\n---\n", "---\n\udcff\n---\n"],
    ids=["yaml", "not-list", "no-name", "not-mapping", "bad-path", "not-utf8"],
)  # fmt: skip
def test_a_bad_card_is_one_line_naming_it(tmp_path, capsys, card):
    ds, _ = _dataset_with_secret(tmp_path)
    (ds / "README.md").write_bytes(card.encode("utf-8", "surrogateescape"))
    assert main(["import", str(ds), "--run", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(ds / "README.md") in err


@pytest.mark.parametrize(
    "text",
    ['{"conversations": "hello"}\n', '{"conversations": null}\n{"conversations": [null, 5, {"role": 1}]}\n',
     '{"conversations": [{"role": "user", "content": 5}, {"role": "assistant", "content": {"a": 1}}]}\n',
     '{"conversations": ' + "[" * 100_000 + "]" * 100_000 + "}\n"],
    ids=["string", "nulls", "non-text", "deep"],
)  # fmt: skip
def test_a_bad_sft_file_is_one_line_or_bad_rows_never_a_traceback(tmp_path, capsys, text):
    src = tmp_path / "sft.jsonl"
    src.write_text(text)
    rc = main(["pull", str(src), "--run", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert (rc == 1 and len(err.splitlines()) == 1 and str(src) in err) or (rc == 0 and not err)


def test_jsonl_is_read_as_the_json_spec_says(tmp_path):
    from sfdata.hub.readers import read_file

    rows = [{"a": "line\u2028sep\u0085next\u2029para"}, {"a": "plain"}]
    f = tmp_path / "x.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode() + b"\n")
    assert read_file(f)["a"].to_list() == [r["a"] for r in rows]
    g = tmp_path / "y.json"
    g.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())
    assert read_file(g)["a"].to_list() == [r["a"] for r in rows]


def test_sharegpt_spelled_conversations_pull(tmp_path):
    src = tmp_path / "s.jsonl"
    conv = [{"from": "human", "value": "Using [1, 2] make 3"}, {"from": "gpt", "value": "<answer>1+2</answer>"}]
    src.write_text(json.dumps({"conversations": conv}) + "\n")
    assert main(["pull", str(src), "--run", str(tmp_path / "r")]) == 0
    assert RunDir(tmp_path / "r").read("traces")["is_correct"].to_list() == [True]


def test_reimport_with_reflections_in_another_order_adds_nothing(tmp_path):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    key = "model_responses__mutated_prompts_reflection"
    rows[0][key] = rows[0][key] + [rows[0][key][0]]  # the same text twice for one response
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    b.write_text("".join(json.dumps({**r, key: list(reversed(r[key]))}) + "\n" for r in reversed(rows)))
    first = import_raw(a, tmp_path / "run")
    again = import_raw(b, tmp_path / "run")
    refl = RunDir(tmp_path / "run").read("reflections")
    assert first.reflections == refl.height == again.reflections
    assert refl["reflection_id"].n_unique() == refl.height == sum(len(r[key]) for r in rows)


def test_export_leaves_out_rows_with_null_ids(tmp_path):
    from tests.synth import make_run

    run = make_run(tmp_path / "r", n_questions=2)
    assert main(["build", str(run.path)]) == 0
    extra = run.read("traces").head(1).with_columns(pl.lit(None, dtype=pl.String).alias("trace_id"))
    with pytest.raises(ValueError, match="null trace_id"):  # our writers refuse a null id
        run.append("traces", extra)
    extra.write_parquet(run.path / "traces" / "part-zz-foreign.parquet")  # a part some other tool wrote
    n = run.read("traces").filter(pl.col("trace_id").is_not_null()).height
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="1 row"):
        from sfdata.hub.export import export

        (f,) = export(run.path, "sft", out)
    got = pl.read_parquet(f)
    assert got["trace_id"].null_count() == 0 and got.height == n
    shutil.rmtree(out)
