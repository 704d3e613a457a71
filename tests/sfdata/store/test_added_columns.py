"""A column added to a table later (eval.arm) reads back with its default from files written before it."""

from __future__ import annotations

import polars as pl

from sfdata.store import RunDir
from sfdata.store.duck import query
from sfdata.store.parquet import new_part_name
from sfdata.store.run import now_utc
from sfdata.store.schemas import EVAL


def _eval_rows(n: int, arm: str | None) -> pl.DataFrame:
    cols = {c: t for c, t in EVAL.items() if arm is not None or c != "arm"}
    row = {
        "eval_id": None,
        "arm": arm,
        "model": "m",
        "stage": "base",
        "task": "multiplication",
        "level": 1,
        "question_id": "q",
        "sample_idx": 0,
        "budget_rounds": 0,
        "prompt": "p",
        "response": "r",
        "extracted_answer": "1",
        "is_correct": True,
        "reason": "correct",
        "completion_tokens": 3,
        "created_at": now_utc(),
    }
    return pl.DataFrame([{**{c: row[c] for c in cols}, "eval_id": f"{arm}-{i}"} for i in range(n)], schema=cols)


def test_old_eval_files_without_arm_stay_readable(tmp_path):
    run = RunDir(tmp_path / "r").init({})
    folder = run.table_path("eval")
    folder.mkdir(parents=True)
    _eval_rows(2, None).write_parquet(folder / new_part_name())  # written by the code before `arm` existed
    assert query(run, "select count(*) n, min(arm) a from eval").row(0) == (2, "")  # no file has it yet
    old = run.read("eval")
    assert old.height == 2 and old["arm"].to_list() == ["", ""]
    assert run.ids("eval") == {"None-0", "None-1"}
    run.append("eval", _eval_rows(1, "rl_only"))  # a new part with the column, next to the old one
    assert sorted(run.read("eval")["arm"].to_list()) == ["", "", "rl_only"]
    got = query(run, "select arm, count(*) n from eval group by arm order by arm")
    assert got.rows() == [("", 2), ("rl_only", 1)]
