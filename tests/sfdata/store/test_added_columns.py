"""Columns added to a table later (eval.arm, eval.prompt_setup) read back with their defaults from files
written before them."""

from __future__ import annotations

import polars as pl

from sfdata.store import RunDir
from sfdata.store.duck import query
from sfdata.store.parquet import new_part_name
from sfdata.store.run import now_utc
from sfdata.store.schemas import EVAL


def _eval_rows(n: int, arm: str | None) -> pl.DataFrame:
    # an old file (arm None) predates the arm, prompt_setup, grader, answer and data columns
    later = ("arm", "prompt_setup", "grader", "answer", "data")
    cols = {c: t for c, t in EVAL.items() if arm is not None or c not in later}
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
        "prompt_setup": "original, 1-shot",
        "grader": "multiplication/1",
        "answer": "1",
        "data": "{}",
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
    got = query(run, "select count(*) n, min(arm) a, min(prompt_setup) p from eval").row(0)
    assert got == (2, "", "original, 0-shot")  # no file has them yet: the defaults
    old = run.read("eval")
    assert old.height == 2 and old["arm"].to_list() == ["", ""]
    assert old["prompt_setup"].to_list() == ["original, 0-shot"] * 2  # how eval asked before prompts were shared
    assert run.ids("eval") == {"None-0", "None-1"}
    run.append("eval", _eval_rows(1, "rl_only"))  # a new part with the column, next to the old one
    assert sorted(run.read("eval")["arm"].to_list()) == ["", "", "rl_only"]
    got = query(run, "select arm, prompt_setup, count(*) n from eval group by all order by arm")
    assert got.rows() == [("", "original, 0-shot", 2), ("rl_only", "original, 1-shot", 1)]
