"""Run paths are literal everywhere: glob characters in a run's name never mix two runs or look corrupt."""

from __future__ import annotations

import pytest

from sfdata.queries import run_sql
from sfdata.store import RunDir
from tests.sfdata.store.test_store import _rollouts

PAIRS = [("g[1]", "g1"), ("run?", "runA"), ("sweep[lr=1e-6]", "sweepl"), ("a*", "ab")]


@pytest.mark.parametrize(("odd", "plain"), PAIRS)
def test_glob_characters_in_a_run_path(tmp_path, odd, plain):
    a, b = RunDir(tmp_path / odd).init(), RunDir(tmp_path / plain).init()
    a.append("rollouts", _rollouts(2))
    b.append("rollouts", _rollouts(5, start=10))
    b.append("rollouts", _rollouts(1, start=20))
    assert a.read("rollouts").height == 2
    assert a.ids("rollouts") == {"r0", "r1"}
    assert run_sql(a, "SELECT count(*) AS n FROM rollouts")["n"][0] == 2
    assert run_sql(b, "SELECT count(*) AS n FROM rollouts")["n"][0] == 6


def test_inspector_on_a_bracketed_run(tmp_path):
    from sfdata.factory.build import BuildConfig, build_stage
    from tests.synth import make_run
    from tui.data import Filters, TraceStore

    odd = make_run(tmp_path / "g[1]", n_questions=2)
    build_stage(odd, BuildConfig(formats=("0C",), n=1))
    plain = make_run(tmp_path / "g1", n_questions=3)
    build_stage(plain, BuildConfig(formats=("0C", "*C"), n=2))
    want = odd.read("traces").height
    store = TraceStore(odd.path)  # builds its search index from the literal files
    assert store.count(Filters()) == want
    store.close()
    assert TraceStore(odd.path, use_index=False).count(Filters()) == want
