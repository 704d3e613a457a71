"""What a one-shot `sf query` / `sf sql` loads: no pandas, and only the tables the statement names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sfdata.synth import make_run

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    ).stdout


def test_a_query_imports_no_pandas_and_pyarrow_gets_it_back_later(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1)
    out = _python(
        "import sys\n"
        "from sfdata.queries import query_rows\n"
        "cols, types, rows = query_rows(sys.argv[1], 'grade_reasons')\n"
        "print(len(rows) > 0, 'pandas' in sys.modules)\n"
        "import pandas as pd, pyarrow as pa\n"  # a notebook importing pandas afterwards: pyarrow sees it
        "print(pa.array(pd.Series([1.0, float('nan')])).null_count, pa.table({'a': [1]}).to_pandas().shape)\n",
        str(run.path),
    )
    assert out.split() == ["True", "False", "1", "(1,", "1)"]


def test_pandas_already_imported_is_left_alone(tmp_path):
    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1)
    out = _python(
        "import sys, pandas as pd, pyarrow as pa\n"
        "from sfdata.queries import query_rows\n"
        "query_rows(sys.argv[1], 'grade_reasons')\n"
        "print(pa.lib._pandas_api.have_pandas, pa.array(pd.Series([1.0, float('nan')])).null_count)\n",
        str(run.path),
    )
    assert out.split() == ["True", "1"]


def test_sf_sql_opens_only_the_tables_it_names(tmp_path, monkeypatch):
    from sfdata.queries import sql_rows
    from sfdata.store import duck
    from sfdata.store.schemas import TABLES

    run = make_run(tmp_path / "r", n_questions=3, n=2, k=1)
    opened: list[str] = []
    real = duck.readable_files
    monkeypatch.setattr(duck, "readable_files", lambda files, table, *a: opened.append(table) or real(files, table, *a))
    assert sql_rows(run, "SELECT count(*) FROM grades")[2] == [(run.read("grades").height,)]
    assert opened == ["grades"]
    # a name built at run time (query_table / query): every table is opened, so the answer is never empty
    opened.clear()
    got = sql_rows(run, "SELECT count(*) FROM query_table('gra' || 'des')")[2]
    assert got == [(run.read("grades").height,)] and set(opened) == set(TABLES)
