"""The one trace grammar: answers, verdicts, well-formedness, segmentation, cues, bounds."""

from __future__ import annotations

import random

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfdata import grammar
from sfdata.factory import phrases
from sfdata.factory.formats import Sample, choose, render
from sfdata.grammar import MAX_TAGS, blocks, extract_answer, find_answer, read_verdict, scan, segment, well_formed
from sfdata.skills import detect
from sfdata.tasks import GradeReason, get_task, grade_response


# ---- answers ------------------------------------------------------------------------------
def test_last_complete_answer_in_any_spelling():
    assert extract_answer("<answer>1</answer> no <Answer> 2 </ANSWER> <answer>open") == "2"
    assert extract_answer("< answer >3</ answer >") == "3"
    # the nearest opening tag before the last close: the old regex returned 'a<answer>b'
    assert extract_answer("<answer>a<answer>b</answer>") == "b"
    assert find_answer("x <answer> never closed").problem == "unclosed_answer"
    assert find_answer("nothing").problem == "no_answer_tag"
    assert find_answer("<answer>  </answer>").problem == "empty_answer"


def test_tag_count_over_the_cap_is_refused_with_a_reason():
    hostile = "<answer>" * (MAX_TAGS + 1) + "<answer>1</answer>"
    sc = scan(hostile)
    assert sc.over_limit and len(sc.tags) == MAX_TAGS  # the scan stops at the cap
    found = find_answer(hostile)
    assert found.text is None and "more than 10,000 tags" in found.problem
    task = get_task("countdown")
    q = task.generate(1, 0, level=3)[0]
    ans, res = grade_response(task, q, hostile)
    assert ans is None and res.reason == GradeReason.TOO_LONG and "tags" in res.detail
    # just under the cap the text is parsed normally
    assert extract_answer("<sample>" * (MAX_TAGS - 2) + "<answer>7</answer>") == "7"


def test_skills_detector_reports_the_cap_and_still_counts_cues():
    c = detect("wait " + "<sample>" * (MAX_TAGS + 5))
    assert c.malformed and c.problem.startswith("refused") and c.n_samples == 0 and c.cue_wait == 1
    assert not well_formed("<think>" + "<sample></sample>" * MAX_TAGS + "</think>")


def test_unclosed_tags_are_read_in_one_pass():
    """Many unclosed tags under the cap: the structure is still right (the old regexes rescanned to the end)."""
    text = "<sample>" * 3000 + "<answer>5</answer>" + "<verdict>" * 3000
    c = detect(text)
    assert c.n_samples == 3000 and c.n_verdicts == 0 and c.malformed and c.problem == ""
    assert extract_answer(text) == "5"
    assert read_verdict(text).problem == "unclosed_verdict"


# ---- verdicts ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,verdict,problem",
    [
        ("fine.\n<verdict>Correct</verdict>", "Correct", None),
        ("<VERDICT> incorrect </verdict>", "Incorrect", None),
        ("<verdict>Correct</verdict> then <verdict>Incorrect</verdict>", None, "contradictory_verdicts"),
        (
            "End with exactly one line: <verdict>Correct</verdict> if the final answer is right, "
            "or <verdict>Incorrect</verdict> if it is not.",
            None,
            "contradictory_verdicts",
        ),
        ("So: <verdict>Correct</verdict> if the answer is right.", None, "echoed_instruction"),
        ("It is wrong. <verdict>Incorrect", None, "unclosed_verdict"),
        ("<verdict>Correct</verdict> ... <verdict>Corr", None, "unclosed_verdict"),
        ("<verdict>maybe</verdict>", None, "unknown_verdict"),
        ("<verdict>Correct</verdict>\nIf anything, it was easy.", "Correct", None),  # next line: not an echo
        ("<verdict>Correct</verdict>\n<verdict>Correct</verdict>", None, "several_verdicts"),
        ("The answer is correct.", None, "no_verdict"),
        ("", None, "no_verdict"),
    ],
)
def test_a_verdict_is_exactly_one_closed_unambiguous_tag(text, verdict, problem):
    r = read_verdict(text)
    assert (r.verdict, r.problem) == (verdict, problem)
    assert grammar.parse_verdict(text) == verdict


# ---- segmentation: read back what the factory wrote ---------------------------------------------
def _samples() -> list[Sample]:
    refl = (("f1", "Check: 3 + 4 is 7, not 35.\n<verdict>Incorrect</verdict>"),)
    good = (("f2", "7 * 5 = 35, all numbers once.\n<verdict>Correct</verdict>"),)
    return [
        Sample("r1", "original", "I add: 3 + 4 + 5\n<answer>3 + 4 + 5</answer>", "3 + 4 + 5", False, refl),
        Sample("r2", "rephrase", "Multiply: (3 + 4) * 5\n<answer>(3 + 4) * 5</answer>", "(3 + 4) * 5", True, good),
        Sample("r3", "alternatively", "<answer>(4 + 3) * 5</answer>", "(4 + 3) * 5", True, good),
    ]


@pytest.mark.parametrize("fmt", ["*C", "*C*IC", "*CC", "0C"])
def test_segment_reads_back_a_rendered_trace(fmt):
    rng = random.Random(1)
    trace = choose(fmt, _samples(), 3, rng)[0]
    text = render(trace, rng)
    parts = segment(text)
    assert parts.well_formed
    assert parts.samples == [s.sample.response.strip() for s in trace.steps] + (
        [trace.tail_sample.response.strip()] if trace.tail_sample else []
    )
    assert parts.reflections == [s.reflection[1].strip() for s in trace.steps if s.reflection]
    assert parts.answer == trace.final.answer
    assert parts.ending in phrases.ENDING
    glue = [s.glue for s in trace.steps if s.glue] + trace.tail
    assert parts.glue == glue
    c = detect(text)
    assert c.n_samples == len(parts.samples) and not c.malformed and c.final_matches_last


def test_blocks_keep_unclosed_and_stray_tags_as_text():
    assert blocks("<sample>never closed") == [grammar.Block("glue", "<sample>never closed")]
    assert blocks("a</think>b<answer>x</answer>") == [
        grammar.Block("glue", "a"),
        grammar.Block("ending", "b"),
        grammar.Block("answer", "x"),
    ]
    assert grammar.segments("</reflect> stray") == [("tag", "</reflect>"), ("glue", " stray")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<think>", "</think>", "<sample>", "</sample>", "<answer>", "</answer>", "x"])))
def test_segments_cover_the_text_exactly(pieces):
    text = "".join(pieces)
    assert "".join(p for _, p in grammar.segments(text)) == text


# ---- structural tags, cues -----------------------------------------------------------------
def test_structural_tag_pattern_is_the_same_in_python_and_polars():
    import polars as pl

    texts = ["plain", "<sample>", "< /Think >", "<reflect >x", "<answer>1</answer>", "<verdict>Correct</verdict>"]
    py = [grammar.has_structural_tag(t) for t in texts]
    pol = pl.Series(texts).str.contains(grammar.STRUCTURAL_TAG_PATTERN).to_list()
    assert py == pol == [False, True, True, True, False, False]


def test_inspector_cue_filters_match_the_skills_cues():
    """The TUI's SQL cue predicates (DuckDB RE2) agree with the detector's cue regexes on every text."""
    from tui.data import SKILLS

    texts = [
        "Wait, that is off.",
        "Let me verify this.",
        "let me check again",
        "Let's double-check the sum",
        "verification done",
        "Alternatively, another approach works.",
        "I'll verify it",
        "awaiting nothing",
        "checking",
    ]
    con = duckdb.connect()
    con.execute("CREATE TABLE traces AS SELECT unnest(?) AS trace", [texts])
    for skill, cue in [
        ("wait", "cue_wait"),
        ("verify", "cue_verify"),
        ("alternatively", "cue_alternatively"),
        ("check", "cue_check"),
    ]:
        sql_hits = [r[0] for r in con.execute(f"SELECT {SKILLS[skill]} FROM traces").fetchall()]
        py_hits = [bool(grammar.CUE_RE[cue].search(t)) for t in texts]
        assert sql_hits == py_hits, skill
