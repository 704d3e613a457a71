"""Generation jobs: every sample and reflection is requested with its own seed, fixed by its id.

The fake engine behaves like a per-request-seeded engine (vLLM, OpenAI servers): its output is
a function of (prompt, seed) only, so equal seeds for one prompt would mean equal samples.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sfdata.engines.base import Completion, SamplingParams, request_seeds
from sfdata.generate import GenerateConfig, generate_stage
from sfdata.generation import engine_for, generate_jobs
from sfdata.grade import grade_stage
from sfdata.reflect import FORCE_TOKENS, ReflectConfig, reflect_stage
from sfdata.store import RunDir
from sfdata.store.ids import seed_from_id
from sfdata.tasks import make_questions


class SeedRecordingEngine:
    """Answers each request with text derived from its seed; records every call's seeds."""

    name = "fake"
    model = "fake"

    def __init__(self, fail_after_calls: int | None = None):
        self.calls: list[list[int]] = []
        self.closed = False
        self.fail_after_calls = fail_after_calls

    def chat_text(self, messages):
        return "".join(m["content"] for m in messages)

    def generate(self, prompts, sampling: SamplingParams, seeds=None):
        if self.fail_after_calls is not None and len(self.calls) >= self.fail_after_calls:
            raise RuntimeError("engine died")
        seeds = request_seeds(prompts, sampling, seeds)
        self.calls.append(list(seeds))
        out = []
        for p, s in zip(prompts, seeds):
            verdict = "Correct" if s % 2 else "Incorrect"
            text = f"try {s % 1000}: <answer>{s % 97}</answer>\n<verdict>{verdict}</verdict>"
            out.append([Completion(text, len(str(p)), 5)])
        return out

    def close(self):
        self.closed = True


def _run(path: Path, n_questions: int = 3) -> RunDir:
    run = RunDir(path).init({"test": True})
    run.write("questions", make_questions("countdown", n_questions, 0, level=3))
    return run


def _generate(path: Path, chunk: int, engine=None, **kw) -> tuple[RunDir, SeedRecordingEngine]:
    run = _run(path)
    engine = engine or SeedRecordingEngine()
    cfg = GenerateConfig(model="fake", variants=("original", "rephrase"), n=4, chunk=chunk, seed=7, **kw)
    generate_stage(run, cfg, engine=engine)
    return run, engine


def _seeds_by_id(run: RunDir, table: str, col: str) -> dict[str, int]:
    return dict(run.read(table).select(col, "seed").iter_rows())


def test_every_sample_gets_its_own_seed_derived_from_its_id(tmp_path):
    run, engine = _generate(tmp_path / "a", chunk=5)
    df = run.read("rollouts")
    assert df.height == 3 * 2 * 4
    # the row records the seed its request got, and that seed is the id's seed
    sent = [s for call in engine.calls for s in call]
    assert sorted(sent) == sorted(df["seed"].to_list())
    assert all(s == seed_from_id(r, 7) for r, s in df.select("rollout_id", "seed").iter_rows())
    # the N samples of one question x variant were requested with N different seeds, so they differ
    per_prompt = df.group_by("question_id", "variant").agg(
        n_seeds=pl.col("seed").n_unique(), n_texts=pl.col("response").n_unique()
    )
    assert per_prompt["n_seeds"].to_list() == [4] * 6
    assert per_prompt["n_texts"].to_list() == [4] * 6
    assert not engine.closed  # the caller's engine stays open


def test_seeds_do_not_depend_on_chunking_or_resume(tmp_path):
    whole, _ = _generate(tmp_path / "whole", chunk=100)
    small, _ = _generate(tmp_path / "small", chunk=3)
    assert _seeds_by_id(small, "rollouts", "rollout_id") == _seeds_by_id(whole, "rollouts", "rollout_id")
    # a run that dies after two chunks and is resumed with another chunk size ends with the same seeds
    dying = SeedRecordingEngine(fail_after_calls=2)
    with pytest.raises(RuntimeError, match="engine died"):
        _generate(tmp_path / "resumed", chunk=4, engine=dying)
    resumed = RunDir(tmp_path / "resumed")
    assert resumed.read("rollouts").height == 8
    again = SeedRecordingEngine()
    cfg = GenerateConfig(model="fake", variants=("original", "rephrase"), n=4, chunk=7, seed=7)
    info = generate_stage(resumed, cfg, engine=again)
    assert info["existing"] == 8 and info["written"] == 16
    assert _seeds_by_id(resumed, "rollouts", "rollout_id") == _seeds_by_id(whole, "rollouts", "rollout_id")
    assert dict(resumed.read("rollouts").select("rollout_id", "response").iter_rows()) == dict(
        whole.read("rollouts").select("rollout_id", "response").iter_rows()
    )


def test_another_base_seed_gives_other_seeds(tmp_path):
    a, _ = _generate(tmp_path / "a", chunk=5)
    run = _run(tmp_path / "b")
    generate_stage(
        run, GenerateConfig(model="fake", variants=("original", "rephrase"), n=4, seed=8), SeedRecordingEngine()
    )
    assert not set(a.read("rollouts")["seed"]) & set(run.read("rollouts")["seed"])


def test_reflections_of_one_rollout_get_distinct_stable_seeds(tmp_path):
    runs = {}
    for chunk in (2, 50):
        run, _ = _generate(tmp_path / f"c{chunk}", chunk=5)
        grade_stage(run)  # reflect needs grades (it never grades as a side effect)
        engine = SeedRecordingEngine()
        reflect_stage(run, ReflectConfig(model="fake", k=3, chunk=chunk, seed=11), engine=engine)
        df = run.read("reflections")
        assert df.height == 24 * 3
        assert sorted(s for call in engine.calls for s in call) == sorted(df["seed"].to_list())
        assert all(s == seed_from_id(f, 11) for f, s in df.select("reflection_id", "seed").iter_rows())
        per_rollout = df.group_by("rollout_id").agg(n=pl.col("seed").n_unique(), t=pl.col("text").n_unique())
        assert set(per_rollout["n"]) == {3} and set(per_rollout["t"]) == {3}
        runs[chunk] = _seeds_by_id(run, "reflections", "reflection_id")
    assert runs[2] == runs[50]


def test_forced_verdicts_reuse_the_reflection_seed(tmp_path):
    class NoVerdictFirst(SeedRecordingEngine):
        def generate(self, prompts, sampling, seeds=None):
            out = super().generate(prompts, sampling, seeds)
            if sampling.max_tokens != FORCE_TOKENS:  # the main reflection: drop the verdict so it gets forced
                return [[Completion(c[0].text.split("<verdict>")[0], 1, 5)] for c in out]
            return [[Completion("Correct</verdict>", 1, 1)] for _ in out]  # a forced verdict must close the tag

    run, _ = _generate(tmp_path / "r", chunk=50)
    grade_stage(run)
    engine = NoVerdictFirst()
    reflect_stage(run, ReflectConfig(model="fake", k=2, chunk=100, seed=3), engine=engine)
    main_call, force_call = engine.calls
    assert force_call == main_call  # every reflection lacked a verdict; each continuation keeps its seed
    assert set(run.read("reflections")["verdict"]) == {"Correct"}


def test_jobs_without_seeds_or_wrong_seed_counts_are_refused():
    eng = SeedRecordingEngine()
    with pytest.raises(ValueError, match="without a seed"):
        generate_jobs(eng, [{"raw": "x"}], SamplingParams())
    with pytest.raises(ValueError, match="one seed per prompt"):
        eng.generate(["a", "b"], SamplingParams(), seeds=[1])


def test_engine_for_closes_only_what_it_created(monkeypatch):
    import sfdata.engines as engines

    made = []

    def fake_get_engine(kind, model, **opts):
        made.append(SeedRecordingEngine())
        return made[-1]

    monkeypatch.setattr(engines, "get_engine", fake_get_engine)
    mine = SeedRecordingEngine()
    with engine_for(mine) as eng:
        assert eng is mine
    assert not mine.closed
    with pytest.raises(RuntimeError):
        with engine_for(None, "transformers", "m") as eng:
            raise RuntimeError("boom")
    assert made and made[0].closed


class _FirstRequest(Exception):
    pass


class StopAtFirstRequestEngine(SeedRecordingEngine):
    """Records how many planned jobs had been built when the first request arrived, then stops the run."""

    def __init__(self, built: list[int]):
        super().__init__()
        self.built = built
        self.at_first_request: int | None = None
        self.first_batch = 0

    def generate(self, prompts, sampling: SamplingParams, seeds=None):
        self.at_first_request = self.built[0]
        self.first_batch = len(prompts)
        raise _FirstRequest


def test_a_huge_generate_sends_its_first_request_after_one_chunk_of_planning(tmp_path, monkeypatch):
    """`--n 2000000` once built every job (90 s, 1.6 GB) before the first request; planning now streams."""
    import sfdata.generate as rollouts

    built = [0]
    real = rollouts.stable_id

    def counting_stable_id(*parts, **kw):
        built[0] += 1
        return real(*parts, **kw)

    monkeypatch.setattr(rollouts, "stable_id", counting_stable_id)
    run = _run(tmp_path / "r", n_questions=2)
    eng = StopAtFirstRequestEngine(built)
    cfg = GenerateConfig(n=2_000_000, chunk=32, variants=("original", "rephrase"))
    with pytest.raises(_FirstRequest):
        generate_stage(run, cfg, engine=eng)
    assert eng.first_batch == 32
    assert eng.at_first_request is not None and eng.at_first_request <= 2 * 32  # not 8,000,000


def test_streamed_plan_resumes_the_gap_with_full_chunks(tmp_path):
    run = _run(tmp_path / "r", n_questions=3)
    eng = SeedRecordingEngine(fail_after_calls=2)
    cfg = GenerateConfig(n=4, chunk=5, variants=("original", "rephrase"))
    with pytest.raises(RuntimeError):
        generate_stage(run, cfg, engine=eng)
    assert run.read("rollouts").height == 10
    again = SeedRecordingEngine()
    info = generate_stage(run, cfg, engine=again)
    assert (info["planned"], info["existing"], info["written"]) == (24, 10, 14)
    assert [len(c) for c in again.calls] == [5, 5, 4]
    ids = run.read("rollouts")["rollout_id"]
    assert ids.n_unique() == ids.len() == 24
    assert generate_stage(run, cfg, engine=SeedRecordingEngine()) == {"planned": 24, "existing": 24, "written": 0}
