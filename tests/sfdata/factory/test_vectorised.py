"""The vectorised build obeys every trace rule of the per-question reference (formats.choose)."""

from __future__ import annotations

import random
import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata.factory import phrases
from sfdata.factory.build import BuildConfig, assemble, samples_by_question
from sfdata.factory.formats import FORMATS, Sample, Skip, choose, render, usable
from sfdata.skills import well_formed
from sfdata.tasks import extract_answer

_BLOCK = re.compile(r"<sample>\n(.*?)\n</sample>(?:\n<reflect>\n(.*?)\n</reflect>)?", re.DOTALL)
VARIANTS = ["original", "plan_and_execute", "alternatively", "rephrase"]

question_st = st.lists(
    st.tuples(st.booleans(), st.sampled_from(VARIANTS), st.integers(0, 2), st.booleans()), min_size=0, max_size=9
)

# the reflections columns samples_by_question reads
REFLECTION_COLUMNS = {
    "rollout_id": pl.String,
    "reflection_idx": pl.Int64,
    "reflection_id": pl.String,
    "text": pl.String,
    "verdict": pl.String,
}


def _tables(questions):
    """The SampleTable and the reference Samples per question, for lists of (correct, variant, n_refl, clean)."""
    ro, gr, rf, by_q = _raw_tables(questions, with_samples=True)
    return samples_by_question(ro, gr, rf), by_q


def _raw_tables(questions, with_samples: bool = False):
    """rollouts / grades / reflections frames for lists of (correct, variant, n_refl, clean) per question."""
    ro, gr, rf, by_q = [], [], [], {}
    for qi, sams in enumerate(questions):
        qid, out = f"q{qi:03d}", []
        for i, (ok, v, k, clean) in enumerate(sams):
            rid, ans = f"{qid}r{i}", (f"({i} + 1) * 2" if ok else f"{i} - 9")
            resp = f"attempt {i}: <answer>{ans}</answer>" if clean else f"bad {i} </think> <answer>{ans}</answer>"
            ro.append({"rollout_id": rid, "question_id": qid, "variant": v, "sample_idx": i, "response": resp})
            gr.append({"rollout_id": rid, "extracted_answer": ans, "is_correct": ok})
            refl = []
            for j in range(k):
                text = f"check {i}/{j}\n<verdict>{'Correct' if ok else 'Incorrect'}</verdict>"
                says, wrong = ("Correct", "Incorrect") if ok else ("Incorrect", "Correct")
                rf.append(
                    {
                        "rollout_id": rid,
                        "reflection_idx": j,
                        "reflection_id": f"{rid}f{j}",
                        "text": text,
                        "verdict": says,
                    }
                )
                rf.append(  # an invalid one (wrong verdict) that must never appear
                    {"rollout_id": rid, "reflection_idx": 9, "reflection_id": f"{rid}x", "text": "no", "verdict": wrong}
                )
                refl.append((f"{rid}f{j}", text))
            out.append(Sample(rid, v, resp, ans, ok, tuple(refl)))
        by_q[qid] = out
    rfs = pl.DataFrame(rf, schema=REFLECTION_COLUMNS)
    ros = pl.DataFrame(
        ro,
        schema={
            "rollout_id": pl.String,
            "question_id": pl.String,
            "variant": pl.String,
            "sample_idx": pl.Int64,
            "response": pl.String,
        },
    )
    grs = pl.DataFrame(gr, schema={"rollout_id": pl.String, "extracted_answer": pl.String, "is_correct": pl.Boolean})
    return (ros, grs, rfs, by_q) if with_samples else (ros, grs, rfs)


def check_row(row, samples):
    by_id = {s.rollout_id: s for s in samples}
    fmt, text, rids, fids = row["format"], row["trace"], row["rollout_ids"], row["reflection_ids"]
    final = by_id[rids[-1]] if fmt != "*C*IC" else by_id[rids[-1]]
    assert row["is_correct"] == final.is_correct or fmt == "random" or fmt == "*C*IC"
    if fmt == "star":
        assert text == final.response.strip() and final.is_correct
        return
    assert well_formed(text), text
    assert extract_answer(text.rsplit("</think>", 1)[1]) == row["final_answer"]
    blocks = _BLOCK.findall(text.split("</think>")[0])
    assert len(blocks) == len(rids) == len(fids) == len(row["variants"])
    for rid, fid, v, (body, refl) in zip(rids, fids, row["variants"], blocks):
        s = by_id[rid]
        assert body == s.response.strip() and v == s.variant
        if fid:
            assert fid in {f for f, _ in s.reflections} and refl == dict(s.reflections)[fid].strip()
        else:
            assert refl == ""
    steps = [by_id[r] for r in rids[: row["n_samples"]]]
    after_correct, after_incorrect, _, _ = phrases.glue_pools(any(fids))
    for s in steps[:-1]:
        assert any(p in text for p in (after_correct if s.is_correct else after_incorrect))
    assert len({s.rollout_id for s in steps}) == len(steps)
    assert row["n_correct"] == sum(s.is_correct for s in steps)
    assert row["n_retries"] == sum(not s.is_correct for s in steps[:-1])
    if fmt in ("0C", "*C", "*C_full", "*CC", "no_reflection"):
        assert steps[-1].is_correct and row["final_answer"] == steps[-1].answer
    if fmt == "*CC":
        assert steps[-2].is_correct and row["n_confirms"] == 1
    if fmt == "*C*IC":
        assert not steps[-1].is_correct and row["is_correct"] and row["n_backtracks"] == 1
        assert rids[-1] in rids[:-1] and fids[-1] == ""
    if fmt in ("no_reflection",):
        assert "<reflect>" not in text


@settings(max_examples=60, deadline=None)
@given(st.lists(question_st, min_size=1, max_size=6), st.sampled_from(FORMATS), st.integers(1, 5), st.integers(0, 99))
def test_vectorised_traces_follow_the_reference_rules(questions, fmt, n, seed):
    table, by_q = _tables(questions)
    df, skipped = assemble(table, {q: q for q in by_q}, {}, BuildConfig(formats=(fmt,), n=n, seed=seed))
    rows = df.to_dicts()
    for qid, samples in by_q.items():
        mine = [r for r in rows if r["question_id"] == qid]
        try:  # the reference decides whether this question has traces of the format, and how many
            ref = choose(fmt, samples, n, random.Random(0))
        except Skip as e:
            assert not mine, (qid, e.reason)
            continue
        assert len(mine) == len(ref), (qid, fmt)
        for r in mine:
            check_row(r, samples)
        # as long as N and the usable samples allow, with as many prompt variants as possible
        cands = [s for s in samples if usable(s, fmt not in ("no_reflection", "star"))]
        longest = max(mine, key=lambda r: r["n_samples"])
        ref_longest = max(ref, key=lambda t: len(t.steps))
        assert longest["n_samples"] == len(ref_longest.steps)
        if fmt in ("*C", "*C_full", "no_reflection", "random"):  # (*CC: its two finals must be correct)
            assert len(set(longest["variants"])) == min(longest["n_samples"], len({s.variant for s in cands}))
    # questions without any sample are not in the table (as before); the others skip like the reference
    assert sum(skipped.values()) == sum(1 for q in by_q.values() if q and _skips(fmt, q, n))


def _skips(fmt, samples, n):
    try:
        choose(fmt, samples, n, random.Random(0))
    except Skip:
        return True
    return False


def test_seeded_build_is_deterministic_and_seed_sensitive():
    qs = [[(i % 2 == 0, VARIANTS[i % 4], 1 + i % 2, True) for i in range(8)] for _ in range(20)]
    table, by_q = _tables(qs)
    cfg = dict(formats=("*C", "*C*IC", "*CC", "random", "*C_full"), n=4)
    a, _ = assemble(table, {q: q for q in by_q}, {}, BuildConfig(**cfg, seed=1))
    b, _ = assemble(table, {q: q for q in by_q}, {}, BuildConfig(**cfg, seed=1))
    c, _ = assemble(table, {q: q for q in by_q}, {}, BuildConfig(**cfg, seed=2))
    assert a.drop("created_at").equals(b.drop("created_at"))
    assert set(a["trace_id"]) != set(c["trace_id"])
    assert a["trace_id"].n_unique() == a.height
    # a question's traces do not depend on the other questions in the build
    one, _ = assemble(_tables(qs[:1])[0], {"q000": "q000"}, {}, BuildConfig(**cfg, seed=1))
    assert one.drop("created_at").equals(a.filter(pl.col("question_id") == "q000").drop("created_at"))


def test_no_sample_order_moves_the_final_sample():
    qs = [[(i % 2 == 0, VARIANTS[i % 4], 1, True) for i in range(6)] for _ in range(10)]
    table, by_q = _tables(qs)
    df, _ = assemble(table, {q: q for q in by_q}, {}, BuildConfig(formats=("*C",), n=3, ablation="no_sample_order"))
    assert df.height == 10 and set(df["purpose"]) == {"no_sample_order"}
    for r in df.to_dicts():
        assert well_formed(r["trace"]) and extract_answer(r["trace"].rsplit("</think>", 1)[1]) == r["final_answer"]
        last = r["rollout_ids"][-1]
        assert r["final_answer"] != dict((s.rollout_id, s.answer) for s in by_q[r["question_id"]])[last]


def test_skip_reason_names_correct_samples_excluded_for_their_tags():
    # q000: its only correct sample carries a structural tag (an imported `<think>`-style response);
    # q001: really has no correct sample; q002: two correct samples, one tagged (fails *CC)
    qs = [
        [(True, "original", 1, False), (False, "original", 1, True)],
        [(False, "original", 1, True)],
        [(True, "original", 1, True), (True, "rephrase", 1, False)],
    ]
    table, by_q = _tables(qs)
    _, skipped = assemble(table, {q: q for q in by_q}, {}, BuildConfig(formats=("*C", "*CC"), n=2))
    assert skipped["*C:no_clean_correct"] == 1
    assert skipped["*C:no_correct"] == 1
    assert skipped["*CC:fewer_than_two_clean_correct"] == 1
    assert skipped["*CC:fewer_than_two_correct"] == 2  # q001, and q000: one correct in all, tagged or not
    assert sum(v for k, v in skipped.items() if k.startswith("*CC:")) == 3


def test_every_ablation_is_equal_serial_and_in_parallel_chunks():
    """A trace's draws are keyed by stable ids, never by a question's index in this build (which chunking
    changes): each ablation's chunked build equals the single pass row for row."""
    qs = [[(i % 2 == 0, VARIANTS[i % 4], 1 + i % 2, True) for i in range(7)] for _ in range(24)]
    table, by_q = _tables(qs)
    prompts = {q: q for q in by_q}
    for ablation in (None, "no_sample_order", "no_reflections", "no_prompt_diversity"):
        cfg = dict(formats=("*C", "*C*IC", "*CC", "random", "*C_full"), n=4, ablation=ablation, seed=7)
        serial, s1 = assemble(table, prompts, {}, BuildConfig(**cfg, workers=1))
        parallel, s2 = assemble(table, prompts, {}, BuildConfig(**cfg, workers=3))
        assert serial.height > 24 and s1 == s2
        assert serial.drop("created_at").equals(parallel.drop("created_at")), ablation
    # questions without a prompt are skipped (counted), the same in chunks
    some = {q: q for i, q in enumerate(sorted(by_q)) if i % 3}
    serial, s1 = assemble(table, some, {}, BuildConfig(formats=("*C", "*CC"), n=3, workers=1))
    parallel, s2 = assemble(table, some, {}, BuildConfig(formats=("*C", "*CC"), n=3, workers=3))
    assert s1 == s2 and s1["*:unknown_question"] == len(by_q) - len(some)
    assert set(serial["question_id"]) == set(some) and serial.drop("created_at").equals(parallel.drop("created_at"))


def test_sample_table_is_the_same_whatever_the_table_order():
    """Tables written in one rollout order take the side-by-side path, shuffled ones the joins: same table."""
    qs = [[(i % 3 == 0, VARIANTS[i % 4], i % 3, i != 4) for i in range(6)] for _ in range(9)]
    table, _ = _tables(qs)
    ro, gr, rf = _raw_tables(qs)
    assert ro["rollout_id"].equals(gr["rollout_id"])  # the aligned case
    for seed in (1, 2):
        shuffled = samples_by_question(ro.sample(fraction=1, shuffle=True, seed=seed), gr.reverse(), rf.reverse())
        assert shuffled.samples.equals(table.samples) and shuffled.refls.equals(table.refls)
    # one reflection row per rollout, in the rollouts' order: the reflections' aligned path
    one = rf.filter(pl.col("reflection_idx") == 0)
    ro1 = ro.join(one.select("rollout_id"), on="rollout_id", how="semi", maintain_order="left")
    gr1 = gr.join(one.select("rollout_id"), on="rollout_id", how="semi", maintain_order="left")
    one = ro1.select("rollout_id").join(one, on="rollout_id", how="left", maintain_order="left")
    a = samples_by_question(ro1, gr1, one)
    b = samples_by_question(ro1, gr1.reverse(), one.reverse())
    assert a.samples.equals(b.samples) and a.refls.equals(b.refls) and a.refls.height > 0
    assert (a.samples["response"] == a.samples["response"].str.strip_chars()).all()


def test_question_order_keeps_ties_in_rollout_id_order():
    """Two rollouts with one (question, variant, sample_idx): the packed sort falls back to the full key."""
    ro = pl.DataFrame(
        {
            "rollout_id": ["b", "a", "c", "d"],
            "question_id": ["q2", "q1", "q1", "q1"],
            "variant": ["original", "rephrase", "original", "rephrase"],
            "sample_idx": [0, 0, 0, 0],
            "response": ["x <answer>1</answer>"] * 4,
        }
    )
    gr = ro.select("rollout_id", pl.lit("1").alias("extracted_answer"), pl.lit(True).alias("is_correct"))
    rf = pl.DataFrame(schema=REFLECTION_COLUMNS)
    t = samples_by_question(ro.reverse(), gr, rf)
    assert t.samples["rollout_id"].to_list() == ["c", "a", "d", "b"]


def test_packed_sort_matches_the_column_sort_on_both_paths():
    from sfdata.factory.passes import sort_small as _sort_small

    rng = random.Random(3)
    rows = [(rng.randrange(5), rng.randrange(4), rng.getrandbits(64)) for _ in range(300)]
    rows += [(1, 2, 5 << 40), (1, 2, 5 << 40 | 7)]  # equal top bits: ties keep the frame's order
    df = pl.DataFrame(rows, schema={"q": pl.UInt32, "v": pl.UInt32, "key": pl.UInt64}, orient="row")
    df = df.with_row_index("i")
    want = df.sort("q", "v", pl.col("key") // (1 << 40), maintain_order=True)["i"]
    assert _sort_small(df, [("q", 32), ("v", 8)], "key")["i"].equals(want)
    big = df.with_columns(pl.col("v") * 100)  # 300 > 2^8 - 1: the column sort, same order
    assert _sort_small(big, [("q", 32), ("v", 8)], "key")["i"].equals(want)


def _verdict_phrases() -> list[str]:
    return [p for kind in phrases.VERDICT_STATING for p in phrases.ALL[kind]]


def test_generic_pools_state_no_verdict():
    words = re.compile(r"\b(correct|incorrect|wrong|right|mistake|fail\w*|works|checks? out|verified)\b", re.I)
    for kind in ("generic", "generic_backtrack", "generic_confirm"):
        for p in phrases.ALL[kind]:
            assert not words.search(p), (kind, p)


@settings(max_examples=30, deadline=None)
@given(st.lists(question_st, min_size=1, max_size=6), st.integers(1, 5), st.integers(0, 99))
def test_no_trace_without_reflections_states_a_verdict(questions, n, seed):
    """Issue 21.5: the no_reflection format and the no_reflections ablation glue with the neutral pool only."""
    table, by_q = _tables(questions)
    builds = [BuildConfig(formats=("no_reflection",), n=n, seed=seed)]
    builds.append(
        BuildConfig(formats=tuple(f for f in FORMATS if f != "star"), n=n, seed=seed, ablation="no_reflections")
    )
    stated = _verdict_phrases()
    for cfg in builds:
        df, _ = assemble(table, {q: q for q in by_q}, {}, cfg)
        for text in df["trace"].to_list():
            assert "<reflect>" not in text and "<verdict>" not in text
            assert not [p for p in stated if p in text], text
    # and the reference builder
    for samples in by_q.values():
        for fmt in ("no_reflection", "*C", "*C*IC", "*CC", "random"):
            try:
                traces = choose(fmt, samples, n, random.Random(seed), reflections=False)
            except Skip:
                continue
            for t in traces:
                text = render(t, random.Random(seed))
                assert not [p for p in stated if p in text], text


@settings(max_examples=30, deadline=None)
@given(st.lists(question_st, min_size=1, max_size=6), st.integers(0, 3), st.integers(0, 99))
def test_star_keeps_every_correct_sample_or_the_cap(questions, cap, seed):
    """Issue 21.7: STaR uses k correct samples per question, one trace each (0 = every correct one)."""
    table, by_q = _tables(questions)
    df, _ = assemble(table, {q: q for q in by_q}, {}, BuildConfig(formats=("star",), seed=seed, star_per_question=cap))
    for qid, samples in by_q.items():
        good = [s for s in samples if s.is_correct and usable(s, False)]
        mine = df.filter(pl.col("question_id") == qid)
        assert mine.height == (len(good) if cap == 0 else min(cap, len(good)))
        rids = [r[0] for r in mine["rollout_ids"].to_list()]
        assert len(set(rids)) == len(rids) and set(rids) <= {s.rollout_id for s in good}
        assert (
            mine.height == len(choose("star", samples, 1, random.Random(seed), star_per_question=cap)) if good else True
        )


def test_c_full_is_a_fresh_draw_for_each_length():
    """Issue 21.8: *C_full (and no_reflection) build lengths 1..N, each drawn afresh (not one draw's growing prefix)."""
    questions = [[(i % 3 != 0, VARIANTS[i % 4], 1, True) for i in range(12)] for _ in range(20)]
    table, by_q = _tables(questions)
    for fmt in ("*C_full", "no_reflection"):
        df, _ = assemble(table, {q: q for q in by_q}, {}, BuildConfig(formats=(fmt,), n=5, seed=1))
        not_prefix = 0
        for qid in by_q:
            mine = df.filter(pl.col("question_id") == qid).sort("n_samples")
            assert mine["n_samples"].to_list() == [1, 2, 3, 4, 5]
            ids = mine["rollout_ids"].to_list()
            not_prefix += sum(ids[j][:-1] != ids[j + 1][:j] or ids[j][-1] != ids[j + 1][-1] for j in range(4))
        assert not_prefix > 40, not_prefix  # a growing prefix would give 0
