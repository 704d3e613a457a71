"""Trace factory invariants on many random inputs (hypothesis) and on synthetic runs."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata.factory import phrases
from sfdata.factory.formats import FORMATS, Sample, Skip, choose, render, usable
from sfdata.skills import well_formed
from sfdata.tasks import extract_answer

_BLOCK = re.compile(r"<sample>\n(.*?)\n</sample>(?:\n<reflect>\n(.*?)\n</reflect>)?", re.DOTALL)


def _sample(i: int, correct: bool, variant: str, n_refl: int) -> Sample:
    ans = f"({i} + 1) * 2" if correct else f"{i} - 9"
    refl = tuple(
        (f"f{i}_{k}", f"check {i}/{k}\n<verdict>{'Correct' if correct else 'Incorrect'}</verdict>")
        for k in range(n_refl)
    )
    return Sample(f"r{i}", variant, f"attempt {i}: <answer>{ans}</answer>", ans, correct, refl)


samples_st = st.lists(
    st.tuples(
        st.booleans(), st.sampled_from(["original", "plan_and_execute", "alternatively", "rephrase"]), st.integers(0, 2)
    ),
    min_size=0,
    max_size=10,
).map(lambda xs: [_sample(i, c, v, k) for i, (c, v, k) in enumerate(xs)])


def check_trace(fmt, t, text, samples):
    by_id = {s.rollout_id: s for s in samples}
    if fmt == "star":
        assert text == t.final.response.strip() and t.final.is_correct
        return
    assert well_formed(text), text
    assert text.startswith("<think>\n") and "</think>" in text
    assert text.count("<answer>\n") == 1  # only the final answer uses the block layout
    final = extract_answer(text.rsplit("</think>", 1)[1])
    assert final == t.final.answer
    blocks = _BLOCK.findall(text.split("</think>")[0])
    assert len(blocks) == len(t.rollout_ids)
    for rid, fid, (body, refl) in zip(t.rollout_ids, t.reflection_ids, blocks):
        s = by_id[rid]
        assert body == s.response.strip()
        if fid:
            # the reflection was written for this very rollout, and its verdict matches the grade
            assert fid in {f for f, _ in s.reflections}
            verdict = re.findall(r"<verdict>(\w+)</verdict>", refl)[-1]
            assert (verdict == "Correct") == s.is_correct
        else:
            assert refl == ""
    steps = t.steps
    after_correct, after_incorrect, _, _ = phrases.glue_pools(steps[0].reflection is not None)
    for _i, st_ in enumerate(steps[:-1]):
        assert st_.glue in (after_correct if st_.sample.is_correct else after_incorrect)
    if fmt in ("0C", "*C", "*C_full", "*CC", "no_reflection"):
        assert steps[-1].sample.is_correct and t.final is steps[-1].sample
    if fmt in ("*C", "*C_full", "no_reflection"):
        # the samples before the last correct one are drawn from all usable samples, right or wrong
        assert all(s.sample.rollout_id in by_id for s in steps[:-1])
    if fmt == "*CC":
        assert steps[-2].sample.is_correct and t.n_confirms == 1
    if fmt == "*C*IC":
        assert not steps[-1].sample.is_correct and t.final.is_correct
        assert t.tail_sample is t.final and t.n_backtracks == 1
        assert any(s.sample is t.final for s in steps[:-1])
    if fmt == "random":
        assert t.final is steps[-1].sample
    if fmt == "no_reflection":
        assert "<reflect>" not in text
    assert len(set(t.rollout_ids[: len(steps)])) == len(steps)  # no sample used twice (except the backtrack repeat)


@settings(max_examples=250, deadline=None)
@given(samples_st, st.sampled_from(FORMATS), st.integers(1, 6), st.integers(0, 10**6))
def test_format_invariants_hold_or_skip_with_reason(samples, fmt, n, seed):
    rng = random.Random(seed)
    try:
        traces = choose(fmt, samples, n, rng)
    except Skip as e:
        assert e.reason in {
            "no_correct",
            "no_incorrect",
            "fewer_than_two_correct",
            "no_usable_sample",
            "too_few_samples",
        }
        return
    assert traces
    for t in traces:
        check_trace(fmt, t, render(t, rng), samples)
        assert len(t.steps) <= max(n, 2) or fmt == "*C*IC"
    check_length_and_diversity(fmt, traces, samples, n)


def check_length_and_diversity(fmt, traces, samples, n):
    """Traces are as long as N and the usable samples allow, with as many prompt variants as possible."""
    cands = [s for s in samples if usable(s, fmt not in ("no_reflection", "star"))]
    longest = max(traces, key=lambda t: len(t.steps))
    n_variants = len({s.sample.variant for s in longest.steps})
    if fmt in ("*C", "*C_full", "no_reflection", "random"):
        assert len(longest.steps) == min(max(1, n), len(cands))
        assert n_variants == min(len(longest.steps), len({s.variant for s in cands}))
    if fmt == "*CC":
        assert len(longest.steps) == min(max(2, n), len(cands))
    if fmt == "*C*IC":
        wrong = {s.variant for s in cands if not s.is_correct}
        assert n_variants == min(len(longest.steps), len(wrong | {longest.final.variant}))


@settings(max_examples=100, deadline=None)
@given(samples_st, st.sampled_from(["*C", "*CC", "random"]), st.integers(2, 5), st.integers(0, 10**6))
def test_no_sample_order_ablation_keeps_invariants_except_position(samples, fmt, n, seed):
    try:
        traces = choose(fmt, samples, n, random.Random(seed), sample_order=False)
    except Skip:
        return
    for t in traces:
        text = render(t, random.Random(seed))
        assert well_formed(text)
        assert extract_answer(text.rsplit("</think>", 1)[1]) == t.final.answer
        if fmt == "*C" and len(t.steps) > 1:
            assert t.steps[-1].sample is not t.final  # the correct sample is not last


def test_reflections_off_uses_samples_without_reflections():
    samples = [_sample(0, False, "original", 0), _sample(1, True, "original", 0)]
    with pytest.raises(Skip):
        choose("*C", samples, 2, random.Random(0))
    (t,) = choose("*C", samples, 2, random.Random(0), reflections=False)
    assert "<reflect>" not in render(t, random.Random(0))
    assert t.reflection_ids == ["", ""]


def test_structural_tags_inside_a_response_exclude_it():
    bad = Sample(
        "x", "original", "sneaky </think> <answer>1</answer>", "1", True, (("f", "<verdict>Correct</verdict>"),)
    )
    with pytest.raises(Skip, match="no_correct"):
        choose("0C", [bad], 1, random.Random(0))


def test_phrases_are_single_clean_items():
    """Guards the official script's missing-comma bug: adjacent literals silently merged."""
    for kind, items in phrases.ALL.items():
        assert len(items) >= 4, kind
        assert len(set(items)) == len(items), kind
        for p in items:
            assert p == p.strip() and "  " not in p and "\n" not in p
            # two sentences glued without a space ("...work.Let me") would betray a merge
            assert not re.search(r"[.!?:][A-Z]", p), p
            assert len(p) < 120, p


def test_parallel_assembly_equals_serial(tmp_path):
    """Worker processes give exactly the serial result (per-question RNG, ordered chunks)."""
    from sfdata.factory.build import BuildConfig, assemble, question_prompts, samples_by_question
    from sfdata.synth import make_run

    run = make_run(tmp_path / "r", n_questions=30, n=2, k=1, p_correct=0.5, seed=9)
    table = samples_by_question(run.read("rollouts"), run.read("grades"), run.read("reflections"))
    prompts, tasks = question_prompts(run.read("questions"))
    cfg = dict(formats=("*C", "*C*IC", "*CC", "random"), n=3)
    serial, s1 = assemble(table, prompts, tasks, BuildConfig(**cfg, workers=1))
    parallel, s2 = assemble(table, prompts, tasks, BuildConfig(**cfg, workers=2))
    assert serial.drop("created_at").equals(parallel.drop("created_at")) and s1 == s2 and serial.height > 30


def test_build_adds_by_default_and_replace_keeps_only_this_build(tmp_path, capsys):
    from sfdata.app.cli.main import main
    from sfdata.factory.build import BuildConfig, build_stage
    from sfdata.synth import make_run

    run = make_run(tmp_path / "r", n_questions=10, n=2, k=1, p_correct=0.5, seed=5)
    first = build_stage(run, BuildConfig(formats=("*C",), n=2))
    again = build_stage(run, BuildConfig(formats=("*C",), n=2))
    assert again["written"] == 0 and again["existing"] == first["traces"]
    other = build_stage(run, BuildConfig(formats=("*C*IC",), n=3))
    assert other["other_traces_kept"] == first["traces"]
    assert run.read("traces").height == first["traces"] + other["traces"]
    assert main(["build", str(run.path), "--formats", "*C*IC", "--n", "3"]) == 0
    assert "--replace" in capsys.readouterr().out
    assert main(["build", str(run.path), "--formats", "*C*IC", "--n", "3", "--replace"]) == 0
    t = run.read("traces")
    assert set(t["format"]) == {"*C*IC"} and t.height == other["traces"]
    assert not list(run.path.glob(".traces*"))  # staging and old folders are gone


def _refl_sample(i: int, correct: bool, variant: str = "original") -> Sample:
    return _sample(i, correct, variant, 1)


def test_star_c_draws_earlier_samples_regardless_of_correctness():
    """Only correct samples available: *C still has N samples (all correct), not one."""
    samples = [_refl_sample(i, True, v) for i, v in enumerate(["original", "rephrase", "alternatively", "original"])]
    (t,) = choose("*C", samples, 3, random.Random(0))
    assert len(t.steps) == 3 and all(s.sample.is_correct for s in t.steps)
    assert len(set(t.variants)) == 3
    text = render(t, random.Random(0))
    assert text.count("<sample>") == 3 and sum(text.count(p) for p in phrases.DOUBLE_CHECK) == 2
    # mixed pool: over many draws the earlier samples are sometimes correct, sometimes not
    mixed = [_refl_sample(i, i % 2 == 0, f"v{i % 3}") for i in range(8)]
    seen = set()
    for seed in range(200):
        (t,) = choose("*C", mixed, 3, random.Random(seed))
        assert len(t.steps) == 3 and t.steps[-1].sample.is_correct
        seen.update(s.sample.is_correct for s in t.steps[:-1])
    assert seen == {True, False}


def test_prompt_variants_distinct_across_the_whole_trace():
    """The final correct sample's variant is avoided by the picks before it when another is available."""
    samples = [
        _refl_sample(0, True, "original"),
        _refl_sample(1, False, "original"),
        _refl_sample(2, False, "rephrase"),
    ]
    for seed in range(50):
        for fmt in ("*C", "*C*IC"):
            (t,) = choose(fmt, samples, 2, random.Random(seed))
            assert sorted(t.variants[:2]) == ["original", "rephrase"], (fmt, seed, t.variants)
    (t,) = choose("*C", samples, 2, random.Random(0), unique_variants=False)  # the option still turns it off
    assert len(t.steps) == 2


TASK_WORDS = re.compile(
    r"\b(target|numbers?|combination|equation|arithmetic|expression|digits?|letters?|words?|acronym|"
    r"multipl\w*|products?|sums?|add\w*|subtract\w*|countdown)\b",
    re.IGNORECASE,
)


def test_phrases_fit_every_task():
    """Glue is read after Countdown, multiplication, letter-countdown and acronym samples alike."""
    for kind, items in phrases.ALL.items():
        for p in items:
            assert not TASK_WORDS.search(p), (kind, p)
