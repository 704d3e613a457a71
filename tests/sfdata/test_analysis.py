"""Skill detector on hand-written traces; every named query on a fixture run with known answers; report plots."""

from __future__ import annotations

import polars as pl
import pytest

from sfdata import queries
from sfdata.reflect import parse_verdict, verdict_metrics
from sfdata.skills import detect, skills_stage, well_formed
from sfdata.stats import wilson, wilson_sql
from sfdata.store import RunDir, stable_id
from sfdata.store.run import now_utc
from sfdata.tasks import Question, make_questions

S = "<sample>\n{}\n</sample>"
R = "<reflect>\n{}\n<verdict>{}</verdict>\n</reflect>"


def trace(*parts: str, final: str) -> str:
    return "<think>\n" + "\n".join(parts) + "\n</think>\n\nSo the answer is:\n\n<answer>\n" + final + "\n</answer>"


# ---- detector -------------------------------------------------------------------------------
def test_detect_retry_then_correct():
    t = trace(
        S.format("try <answer>1 + 2</answer>"),
        R.format("no", "Incorrect"),
        "Let me try again.",
        S.format("again <answer>3 * 4</answer>"),
        R.format("yes", "Correct"),
        final="3 * 4",
    )
    c = detect(t)
    assert (c.n_samples, c.n_reflections, c.n_verdicts, c.n_verdict_correct, c.n_verdict_incorrect) == (2, 2, 2, 1, 1)
    assert (c.n_retries, c.n_backtracks, c.n_confirms, c.final_matches_last, c.malformed) == (1, 0, 0, True, False)


def test_detect_backtrack_and_confirm():
    bt = trace(
        S.format("<answer>A</answer>"),
        R.format("ok", "Correct"),
        S.format("<answer>B</answer>"),
        R.format("bad", "Incorrect"),
        "Going back to my earlier answer.",
        S.format("<answer>A</answer>"),
        final="A",
    )
    c = detect(bt)
    assert c.n_backtracks == 1 and c.n_retries == 1 and c.final_matches_last
    cc = trace(
        S.format("<answer>A</answer>"),
        R.format("ok", "Correct"),
        S.format("<answer>A</answer>"),
        R.format("ok", "Correct"),
        final="A",
    )
    assert detect(cc).n_confirms == 1


def test_detect_verdict_right_needs_the_question():
    q = Question("countdown", "q", "22", 3, {"numbers": [3, 5, 7], "target": 22})
    from sfdata.tasks import get_task

    t = trace(
        S.format("<answer>3 * 5 + 7</answer>"),
        R.format("x", "Incorrect"),
        S.format("<answer>3 + 5 + 7</answer>"),
        R.format("x", "Incorrect"),
        final="3 + 5 + 7",
    )
    c = detect(t, q, get_task("countdown"))
    assert c.n_verdict_right == 1 and detect(t).n_verdict_right is None


def test_detect_cues_and_malformed_text():
    base = "Wait, let me verify this. Alternatively, let me check 2 + 2. Wait."
    c = detect(base)
    assert (c.cue_wait, c.cue_alternatively, c.cue_check) == (2, 1, 1) and c.cue_verify >= 1
    assert c.n_samples == 0 and c.final_matches_last is None and not c.malformed
    for bad in [
        "<think><sample>a</think></sample>",
        "<sample><sample>x</sample></sample>",
        "</reflect>",
        "<think>open",
    ]:
        assert not well_formed(bad) and detect(bad).malformed
    assert detect(None).n_samples == 0 and detect("").malformed is False


def test_parse_verdict_is_robust():
    assert parse_verdict("blah <verdict>Correct</verdict>") == "Correct"
    assert parse_verdict("<verdict> incorrect </verdict>") == "Incorrect"
    assert parse_verdict("<VERDICT>CORRECT</VERDICT>") == "Correct"
    # two contradictory verdicts are no verdict (issue 11.2; the old parser took the last one)
    assert parse_verdict("<verdict>Correct</verdict> then <verdict>Incorrect</verdict>") is None
    assert parse_verdict("The answer is correct.") is None
    assert parse_verdict("<verdict>maybe</verdict>") is None
    assert parse_verdict(None) is None and parse_verdict("") is None


# ---- fixture run with known answers -------------------------------------------------------------
@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    run = RunDir(tmp_path_factory.mktemp("an") / "run").init({"fixture": True})
    qdf = make_questions("countdown", 2, 0, level=3)
    run.write("questions", qdf)
    q1, q2 = qdf["question_id"].to_list()
    now = now_utc()
    spec = [  # question, variant, sample_idx, correct, reason, tokens
        (q1, "original", 0, True, "correct", 10),
        (q1, "original", 1, False, "wrong_value", 20),
        (q1, "rephrase", 0, False, "no_answer", 30),
        (q2, "original", 0, True, "correct", 40),
        (q2, "original", 1, True, "correct", 50),
        (q2, "rephrase", 0, False, "reused_number", 60),
    ]
    rolls, grades = [], []
    for i, (q, v, s, ok, reason, tok) in enumerate(spec):
        rid = f"r{i}"
        rolls.append(
            {
                "rollout_id": rid,
                "question_id": q,
                "task": "countdown",
                "variant": v,
                "sample_idx": s,
                "prompt": "p",
                "response": f"answer {i}",
                "model": "m",
                "engine": "e",
                "temperature": 0.7,
                "top_p": 1.0,
                "max_tokens": 64,
                "seed": 0,
                "prompt_tokens": 5,
                "completion_tokens": tok,
                "finish_reason": "stop",
                "latency_s": 0.1,
                "created_at": now,
            }
        )
        grades.append(
            {
                "rollout_id": rid,
                "question_id": q,
                "extracted_answer": None,
                "is_correct": ok,
                "reason": reason,
                "grader": "countdown/1",
            }
        )
    run.append("rollouts", pl.DataFrame(rolls))
    run.write("grades", pl.DataFrame(grades))
    refl = [
        ("r0", "Correct", True),
        ("r1", "Correct", False),
        ("r2", "Incorrect", False),
        ("r3", None, True),
        ("r4", "Incorrect", True),
    ]
    run.append(
        "reflections",
        pl.DataFrame(
            [
                {
                    "reflection_id": f"f{i}",
                    "rollout_id": r,
                    "question_id": q1,
                    "reflection_idx": 0,
                    "prompt": "v",
                    "text": "t",
                    "verdict": v,
                    "rollout_is_correct": truth,
                    "is_valid": v is not None and (v == "Correct") == truth,
                    "model": "m",
                    "temperature": 0.6,
                    "seed": 0,
                    "completion_tokens": 5,
                    "latency_s": 0.1,
                    "created_at": now,
                }
                for i, (r, v, truth) in enumerate(refl)
            ]
        ),
    )
    texts = {
        "t1": (
            "*C",
            2,
            True,
            1,
            0,
            trace(
                S.format("<answer>1</answer>"),
                R.format("no", "Incorrect"),
                "Retry.",
                S.format("<answer>2</answer>"),
                R.format("yes", "Correct"),
                final="2",
            ),
        ),
        "t2": ("*C", 1, True, 0, 0, trace(S.format("<answer>2</answer>"), R.format("yes", "Correct"), final="2")),
        "t3": (
            "*C*IC",
            3,
            True,
            1,
            1,
            trace(
                S.format("<answer>2</answer>"),
                R.format("ok", "Correct"),
                S.format("<answer>5</answer>"),
                R.format("no", "Incorrect"),
                "Going back to my earlier answer.",
                S.format("<answer>2</answer>"),
                final="2",
            ),
        ),
        "t4": (
            "random",
            2,
            False,
            1,
            0,
            trace(
                S.format("<answer>7</answer>"),
                R.format("no", "Incorrect"),
                "Wait, again.",
                S.format("<answer>8</answer>"),
                R.format("no", "Incorrect"),
                final="8",
            ),
        ),
    }
    run.append(
        "traces",
        pl.DataFrame(
            [
                {
                    "trace_id": tid,
                    "question_id": q1,
                    "task": "countdown",
                    "format": f,
                    "ablation": None,
                    "purpose": "main",
                    "n_samples": n,
                    "prompt": "p",
                    "trace": text,
                    "final_answer": "2",
                    "is_correct": ok,
                    "rollout_ids": [],
                    "reflection_ids": [],
                    "variants": [],
                    "n_correct": 0,
                    "n_incorrect": 0,
                    "n_retries": rt,
                    "n_backtracks": bt,
                    "n_confirms": 0,
                    "seed": 0,
                    "created_at": now,
                }
                for tid, (f, n, ok, rt, bt, text) in texts.items()
            ]
        ),
    )
    run.write(
        "labels",
        pl.DataFrame(
            {"trace_id": ["t1", "t4"], "label": ["keep", "drop"], "note": ["", "loops"], "updated_at": [now, now]}
        ),
    )
    # eval rows as a run from before experiment arms wrote them (no `arm` column: it reads back as "")
    ev = []
    for stage, resp, ok in [
        ("base", "It is 5.", False),
        ("base", "<answer>2</answer>", True),
        ("sft", trace(S.format("<answer>2</answer>"), R.format("ok", "Correct"), final="2"), True),
        ("sft", trace(S.format("<answer>2</answer>"), R.format("ok", "Correct"), final="2"), True),
    ]:
        ev.append(
            {
                "eval_id": stable_id(stage, len(ev)),
                "model": "m",
                "stage": stage,
                "task": "countdown",
                "level": 3,
                "question_id": q1,
                "sample_idx": 0,
                "budget_rounds": 0,
                "prompt_setup": "original, 0-shot",
                "grader": "",
                "answer": None,
                "data": None,
                "prompt": "p",
                "response": resp,
                "extracted_answer": None,
                "is_correct": ok,
                "reason": "x",
                "completion_tokens": 10,
                "created_at": now,
            }
        )
    from sfdata.store.parquet import write_parquet_atomic

    write_parquet_atomic(pl.DataFrame(ev), run.path / "eval" / "part-0.parquet")
    skills_stage(run)
    return run, texts


def rows(df: pl.DataFrame) -> list[tuple]:
    return [tuple(r) for r in df.iter_rows()]


def test_every_query_is_covered_here():
    assert {q.name for q in queries.available()} == {
        "accuracy_by_attempts",
        "accuracy_by_variant",
        "budget_forcing",
        "eval_accuracy",
        "experiment_table",
        "grade_reasons",
        "label_summary",
        "rl_skill_use",
        "samples_per_trace",
        "skill_by_source",
        "skill_frequency",
        "trace_length",
        "verdict_confusion",
    }
    assert all(q.description for q in queries.available())


def test_accuracy_by_variant(fx):
    df = queries.run_query(fx[0], "accuracy_by_variant")
    assert rows(df.select("variant", "sample_idx", "rollouts", "correct", "accuracy", "mean_tokens")) == [
        ("original", 0, 2, 2, 1.0, 25.0),
        ("original", 1, 2, 1, 0.5, 35.0),
        ("rephrase", 0, 2, 0, 0.0, 45.0),
    ]


def test_grade_reasons(fx):
    df = queries.run_query(fx[0], "grade_reasons")
    assert rows(df) == [
        ("original", "correct", 3, 0.75),
        ("original", "wrong_value", 1, 0.25),
        ("rephrase", "no_answer", 1, 0.5),
        ("rephrase", "reused_number", 1, 0.5),
    ] or sorted(rows(df)) == sorted(
        [
            ("original", "correct", 3, 0.75),
            ("original", "wrong_value", 1, 0.25),
            ("rephrase", "no_answer", 1, 0.5),
            ("rephrase", "reused_number", 1, 0.5),
        ]
    )


def test_verdict_confusion_and_metrics(fx):
    df = queries.run_query(fx[0], "verdict_confusion")
    assert rows(df) == [(1, 1, 1, 1, 1, 0.5, 0.5, 0.5)]
    m = verdict_metrics(fx[0])
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(0.5) and m["f1"] == pytest.approx(0.5)


def test_samples_per_trace_with_and_without_parameter(fx):
    assert rows(queries.run_query(fx[0], "samples_per_trace")) == [
        ("*C", 1, 1),
        ("*C", 2, 1),
        ("*C*IC", 3, 1),
        ("random", 2, 1),
    ]
    assert rows(queries.run_query(fx[0], "samples_per_trace", {"format": "*C"})) == [("*C", 1, 1), ("*C", 2, 1)]


def test_accuracy_by_attempts(fx):
    assert rows(queries.run_query(fx[0], "accuracy_by_attempts")) == [
        (1, 1, 1.0, 0.0),
        (2, 2, 0.5, 1.0),
        (3, 1, 1.0, 1.0),
    ]


def test_trace_length(fx):
    run, texts = fx
    df = queries.run_query(run, "trace_length")
    c = [len(texts["t1"][5]), len(texts["t2"][5])]
    got = {r[0]: r for r in df.iter_rows()}
    assert got["*C"][1] == 2 and got["*C"][2] == pytest.approx(sum(c) / 2) and got["*C"][5] == max(c)
    assert got["*C*IC"][5] == len(texts["t3"][5])


def test_label_summary(fx):
    assert rows(queries.run_query(fx[0], "label_summary")) == [
        ("*C", 2, 1, 0, 1),
        ("*C*IC", 1, 0, 0, 1),
        ("random", 1, 0, 1, 0),
    ]


def test_skill_frequency(fx):
    df = queries.run_query(fx[0], "skill_frequency")
    got = {r["format"]: r for r in df.iter_rows(named=True)}
    assert got["*C"]["traces"] == 2 and got["*C"]["samples_per_answer"] == 1.5
    assert got["*C"]["reflection_rate"] == 1.0 and got["*C"]["retry_rate"] == 0.5 and got["*C"]["backtrack_rate"] == 0.0
    assert got["*C*IC"]["backtrack_rate"] == 1.0 and got["random"]["keyword_cue_rate"] == 1.0
    assert got["*C"]["malformed_rate"] == 0.0


def test_skill_by_source_compares_stages(fx):
    df = queries.run_query(fx[0], "skill_by_source")
    got = {(r["source"], r["stage"]): r for r in df.iter_rows(named=True)}
    assert got[("eval", "base")]["n"] == 2 and got[("eval", "base")]["sample_tag_rate"] == 0.0
    assert got[("eval", "sft")]["sample_tag_rate"] == 1.0 and got[("eval", "sft")]["tagged_verdict_rate"] == 1.0
    assert got[("trace", "")]["n"] == 4 and got[("rollout", "")]["n"] == 6


def test_eval_accuracy(fx):
    df = queries.run_query(fx[0], "eval_accuracy")
    assert rows(df.select("stage", "level", "n_questions", "outputs", "acc")) == [
        ("base", 3, 1, 2, 0.5),  # two samples of one question: n counts the question once, its score is their mean
        ("sft", 3, 1, 2, 1.0),
    ]
    assert df["ci_lo"].to_list() == [round(wilson(0.5, 1)[0], 4), round(wilson(1, 1)[0], 4)]


def _arm_rows(arm: str, oks: list[bool], stage: str = "rl", budget: int = 0) -> list[dict]:
    from sfdata.synth import eval_row

    return [
        eval_row(
            eval_id=stable_id(arm, stage, i, budget),
            arm=arm,
            stage=stage,
            question_id=f"q{i}",
            budget_rounds=budget,
            is_correct=ok,
        )
        for i, ok in enumerate(oks)
    ]


@pytest.fixture
def two_rl_arms(tmp_path):
    """Two RL arms that both write stage = "rl": RL only 0/4, SkillFactory 4/4 (4/4 again with budget forcing)."""
    run = RunDir(tmp_path / "arms").init({})
    rows = _arm_rows("rl_only", [False] * 4) + _arm_rows("skillfactory", [True] * 4)
    rows += _arm_rows("rl_only", [False, False, True, True], budget=2) + _arm_rows("skillfactory", [True] * 4, budget=2)
    run.append("eval", pl.DataFrame(rows))
    skills_stage(run)
    return run


def test_eval_views_keep_two_rl_arms_apart(two_rl_arms):
    ev = queries.run_query(two_rl_arms, "eval_accuracy").filter(pl.col("budget_rounds") == 0)
    assert rows(ev.select("arm", "stage", "n_questions", "acc")) == [
        ("rl_only", "rl", 4, 0.0),
        ("skillfactory", "rl", 4, 1.0),
    ]
    assert ev["ci_hi"][0] == round(wilson(0, 4)[1], 4) and ev["ci_lo"][1] == round(wilson(4, 4)[0], 4)
    sk = queries.run_query(two_rl_arms, "skill_by_source")
    assert rows(sk.select("arm", "stage", "n", "n_questions")) == [
        ("rl_only", "rl", 8, 4),
        ("skillfactory", "rl", 8, 4),
    ]
    ex = queries.run_query(two_rl_arms, "experiment_table")
    assert rows(ex.select("arm", "stage", "task_level", "n_questions", "acc")) == [
        ("rl_only", "rl", "countdown:3", 4, 0.0),
        ("skillfactory", "rl", "countdown:3", 4, 1.0),
    ]
    assert {"ci_lo", "ci_hi"} <= set(ex.columns)


def test_budget_forcing_view_is_per_arm(two_rl_arms):
    bf = queries.run_query(two_rl_arms, "budget_forcing")
    assert rows(bf.select("arm", "budget_rounds", "n_questions", "plain_acc", "acc", "gain")) == [
        ("rl_only", 2, 4, 0.0, 0.5, 0.5),
        ("skillfactory", 2, 4, 1.0, 1.0, 0.0),
    ]
    lo, hi = wilson(2, 4)
    assert (bf["ci_lo"][0], bf["ci_hi"][0]) == (round(lo, 4), round(hi, 4))


def test_every_interval_in_the_queries_is_the_python_wilson():
    """The Wilson formula is defined once (sfdata.stats); each named query holds exactly its SQL text."""
    lo, hi = wilson_sql()
    for q in queries.available():
        if "ci_lo" in q.sql:
            assert f"{lo}" in q.sql and f"{hi}" in q.sql, q.name
            assert "n_questions" in q.sql, q.name


def test_query_cli_formats_and_adhoc_sql(fx, tmp_path, capsys):
    from sfdata.app.cli.main import main

    assert main(["query", "label_summary", "--run", str(fx[0].path), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "format,traces,keep,drop,unlabelled" and "random,1,0,1,0" in out
    assert main(["query", "--list"]) == 0
    assert "verdict_confusion" in capsys.readouterr().out
    assert main(["sql", "SELECT count(*) AS n FROM traces", "--run", str(fx[0].path), "--format", "json"]) == 0
    assert '"n":4' in capsys.readouterr().out.replace(" ", "")
    pq = tmp_path / "q.parquet"
    assert main(["query", "eval_accuracy", "--run", str(fx[0].path), "--format", "parquet", "--out", str(pq)]) == 0
    assert pl.read_parquet(pq).height == 2


def test_query_table_prints_duckdb_rows_as_the_frame_table(fx, capsys):
    """`sf query` prints DuckDB rows without a Polars frame: the same table as `emit` of the frame, every query."""
    from sfdata.app.cli.main import main
    from sfdata.output import emit

    for q in queries.available():
        if q.params:
            continue
        assert main(["query", q.name, "--run", str(fx[0].path), "--limit", "3"]) == 0
        direct = capsys.readouterr().out
        emit(queries.run_query(fx[0], q.name), "table", None, title=q.name, limit=3)
        assert direct == capsys.readouterr().out, q.name


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT format, count(*) AS n, avg(n_samples) AS mean, bool_or(is_correct) AS ok FROM traces GROUP BY 1 ORDER BY 1",
        "SELECT trace_id, rollout_ids, created_at, NULL AS nothing FROM traces ORDER BY trace_id",
        "SELECT 1.0 / 3 AS third, 10::UBIGINT AS big, 'x' AS s WHERE false",
        "SELECT '[bold]not markup[/]' AS tricky",
    ],
)
def test_sql_table_prints_duckdb_rows_as_the_frame_table(fx, capsys, sql):
    """`sf sql` prints DuckDB rows without a Polars frame: the same table as `emit` of `run_sql`'s frame."""
    from sfdata.app.cli.main import main
    from sfdata.output import emit

    assert main(["sql", sql, "--run", str(fx[0].path)]) == 0
    direct = capsys.readouterr().out
    emit(queries.run_sql(fx[0], sql), "table", None)
    assert direct == capsys.readouterr().out


def test_query_cli_imports_neither_pandas_nor_polars(fx):
    """Polars-typed schemas import Polars (~0.15 s) and pyarrow.dataset's import pulls in pandas (about half of
    a one-shot command): the table path needs DuckDB and pyarrow's scans only (`duck._pyarrow_dataset`)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom sfdata.app.cli.main import main\n"
        f"rc = main(['query', 'skill_frequency', '--run', {str(fx[0].path)!r}])\n"
        "print('IMPORTED', 'pandas' in sys.modules, 'polars' in sys.modules, rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "3 row(s)" in out and out.strip().splitlines()[-1] == "IMPORTED False False 0"  # one row per format


def test_report_writes_plots_that_open(fx):
    from PIL import Image

    from sfdata.report import plots, summary

    paths = plots(fx[0])
    assert paths and all(p.suffix == ".png" for p in paths)
    for p in paths:
        with Image.open(p) as im:
            im.verify()
            assert im.size[0] > 100
    s = summary(fx[0])
    assert s
