"""Skill detector: what cognitive skills does a trace or model output show?

Tagged skills come from the trace grammar (`<sample>`, `<reflect>`, `<verdict>`): attempts,
verifications, retries after an Incorrect verdict, backtracks to an earlier verified answer,
confirmations. Untagged cues ("wait", "let me verify", "alternatively", "let me check") make
R1/QwQ-style and base-model outputs comparable with tagged traces. Malformed text (unbalanced
or out-of-order tags) is flagged, never fatal.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from sfdata import grammar
from sfdata.grammar import CUE_RE, CUES, well_formed
from sfdata.store import RunDir
from sfdata.store.schemas import SKILLS
from sfdata.tasks import Question, get_task

__all__ = ["CUES", "SkillCounts", "detect", "eval_questions", "skills_frame", "skills_stage", "well_formed"]


@dataclass
class SkillCounts:
    n_samples: int = 0
    n_reflections: int = 0
    n_verdicts: int = 0
    n_verdict_correct: int = 0
    n_verdict_incorrect: int = 0
    n_verdict_right: int | None = None  # verdicts matching the real grade of their sample (needs the question)
    n_verdict_tp: int | None = None  # a sample's first verdict vs its grade, Correct = positive (needs the question)
    n_verdict_fp: int | None = None
    n_verdict_tn: int | None = None
    n_verdict_fn: int | None = None
    n_retries: int = 0
    n_backtracks: int = 0
    n_confirms: int = 0
    final_matches_last: bool | None = None
    cue_wait: int = 0
    cue_verify: int = 0
    cue_alternatively: int = 0
    cue_check: int = 0
    malformed: bool = False
    problem: str = ""  # why the text was not analysed (over the tag cap); not a column of the skills table


def _events(sc: grammar.Scan) -> list[tuple[str, str | None]]:
    """Ordered events in one pass over the tags: ("sample", its answer) and ("verdict", "Correct"|"Incorrect").

    A sample is a `<sample>` closed by the next `</sample>`; its answer is the last complete `<answer>`
    inside it. A verdict is a closed `<verdict>Correct|Incorrect</verdict>`.
    """
    text, tags = sc.text, sc.tags
    ev: list[tuple[str, str | None]] = []
    sample_open: grammar.Tag | None = None
    answer_open: grammar.Tag | None = None
    answer: str | None = None
    verdict_open: grammar.Tag | None = None
    for t in tags:
        if t.name == "sample":
            if not t.closing:
                if sample_open is None:
                    sample_open, answer_open, answer = t, None, None
            elif sample_open is not None:
                ev.append(("sample", answer))
                sample_open = None
        elif t.name == "answer" and sample_open is not None:
            if not t.closing:
                answer_open = t
            elif answer_open is not None:
                answer = text[answer_open.end : t.start].strip() or None
                answer_open = None
        elif t.name == "verdict":
            if not t.closing:
                verdict_open = t
            elif verdict_open is not None:
                body = text[verdict_open.end : t.start] if t.start - verdict_open.end <= 64 else ""
                word = body.strip().lower()
                if word in ("correct", "incorrect"):
                    ev.append(("verdict", "Correct" if word == "correct" else "Incorrect"))
                verdict_open = None
    return ev


def detect(text: str | None, question: Question | None = None, task: Any = None) -> SkillCounts:
    """Skill counts of one text, from one bounded pass over its tags (over `grammar.MAX_TAGS`: malformed, no events)."""
    text = text or ""
    c = SkillCounts()
    sc = grammar.scan(text)
    c.malformed = not well_formed(text, sc)
    own = _without_glue(text)
    for key, rx in CUE_RE.items():
        setattr(c, key, sum(1 for _ in rx.finditer(own)))
    if sc.over_limit:
        c.problem = f"refused: {sc.problem}"
        return c
    c.n_samples = sum(1 for t in sc.tags if t.name == "sample" and not t.closing)
    c.n_reflections = sum(1 for t in sc.tags if t.name == "reflect" and not t.closing)
    events = _events(sc)
    verified = _count_events(c, events, question, task)
    if c.n_backtracks == 0 and verified and grammar.BACKTRACK_CUE.search(text):
        c.n_backtracks = sum(1 for _ in grammar.BACKTRACK_CUE.finditer(text))
    sample_answers = [v for k, v in events if k == "sample"]
    if sample_answers:
        cut = next((t.start for t in reversed(sc.tags) if t.name == "think" and t.closing), None)
        final = grammar.extract_answer(text[cut:]) if cut is not None else None
        c.final_matches_last = final is not None and sample_answers[-1] is not None and _same(final, sample_answers[-1])
    return c


def _count_events(c: SkillCounts, events: list[tuple[str, str | None]], question: Any, task: Any) -> bool:
    """Verdicts, retries, backtracks, confirmations from the ordered events; True if a sample was verified."""
    verdicts = [v for k, v in events if k == "verdict"]
    c.n_verdicts = len(verdicts)
    c.n_verdict_correct = sum(v == "Correct" for v in verdicts)
    c.n_verdict_incorrect = c.n_verdicts - c.n_verdict_correct
    if question is not None and task is not None:
        c.n_verdict_right = c.n_verdict_tp = c.n_verdict_fp = c.n_verdict_tn = c.n_verdict_fn = 0
    last_answer: str | None = None
    last_verdict: str | None = ""  # "" = no sample yet: a verdict before any sample checks nothing
    verified: set[str] = set()  # answers of samples verified Correct
    saw_incorrect_since = False
    prev_correct_answer: str | None = None
    for kind, val in events:
        if kind == "sample":
            if last_verdict == "Incorrect":
                c.n_retries += 1
            if val is not None and val in verified and saw_incorrect_since:
                c.n_backtracks += 1
            last_answer, last_verdict = val, None
            continue
        if val == "Correct" and last_answer is not None:
            if prev_correct_answer is not None and _same(prev_correct_answer, last_answer):
                c.n_confirms += 1
            prev_correct_answer = last_answer
            verified.add(last_answer)
            saw_incorrect_since = False
        elif val == "Incorrect":
            saw_incorrect_since = bool(verified)
        if c.n_verdict_right is not None and last_verdict is None:  # the first verdict after a sample is checked
            truth = task.grade(question, last_answer).is_correct if last_answer is not None else False
            says = val == "Correct"
            c.n_verdict_right += int(says == truth)
            key = (
                ("n_verdict_tp" if truth else "n_verdict_fp") if says else ("n_verdict_fn" if truth else "n_verdict_tn")
            )
            setattr(c, key, getattr(c, key) + 1)
        last_verdict = val
    return bool(verified)


@functools.cache
def _glue_re() -> re.Pattern[str]:
    """Every glue phrase of the trace factory (sfdata.factory.phrases): a trace's own "let me double-check by
    working through it again" is the project's text, not the model's cue."""
    from sfdata.factory.phrases import ALL

    whole = {p for pool in ALL.values() for p in pool}
    sentences = {x.strip() for p in whole for x in re.split(r"(?<=[.:])\s+", p) if x.strip()}
    phrases = sorted(whole | sentences, key=len, reverse=True)  # a phrase, or one sentence of it, is glue
    return re.compile("|".join(re.escape(p) for p in phrases), re.IGNORECASE)


def _without_glue(text: str) -> str:
    """`text` with the glue phrases blanked out (same length), so cue counts are the model's own."""
    return _glue_re().sub(lambda m: " " * len(m.group(0)), text)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def skills_frame(texts: list[tuple[str, str, str | None]], source: str, questions: dict[str, Question]) -> pl.DataFrame:
    """Rows of the `skills` table for (id, text, question_id) triples."""
    tasks: dict[str, Any] = {}
    rows = []
    for id_, text, qid in texts:
        q = questions.get(qid) if qid else None
        task = None
        if q is not None:
            try:
                task = tasks.setdefault(q.task, get_task(q.task))
            except KeyError:
                task = None
        c = detect(text, q if task else None, task)
        row = asdict(c)
        row.pop("problem")
        rows.append({"id": id_, "source": source, **row})
    return pl.DataFrame(rows, schema=SKILLS) if rows else pl.DataFrame(schema=SKILLS)


def eval_questions(ev: pl.DataFrame) -> dict[str, Question]:
    """The questions eval rows carry (`answer` + `data`): held out, so they are not in the run's questions table.
    Rows written before eval stored them have null data and stay unchecked."""
    rows = ev.filter(pl.col("data").is_not_null()).unique("question_id", keep="first", maintain_order=True)
    out = {}
    for r in rows.select("question_id", "task", "level", "answer", "data").iter_rows(named=True):
        out[r["question_id"]] = Question.from_row({**r, "question": ""})
    return out


def skills_stage(run: RunDir) -> dict[str, Any]:
    """Reads `questions`, `traces`, `rollouts`, `eval`; rewrites `skills` (skill events of every text)."""
    t0 = time.perf_counter()
    questions = {r["question_id"]: Question.from_row(r) for r in run.read("questions").iter_rows(named=True)}
    frames = []
    traces = run.read("traces")
    if traces.height:
        frames.append(
            skills_frame(list(traces.select("trace_id", "trace", "question_id").iter_rows()), "trace", questions)
        )
    rollouts = run.read("rollouts")
    if rollouts.height:
        frames.append(
            skills_frame(
                list(rollouts.select("rollout_id", "response", "question_id").iter_rows()), "rollout", questions
            )
        )
    ev = run.read("eval")
    if ev.height:
        qs = {**eval_questions(ev), **questions}
        frames.append(skills_frame(list(ev.select("eval_id", "response", "question_id").iter_rows()), "eval", qs))
    df = pl.concat(frames) if frames else pl.DataFrame(schema=SKILLS)
    run.write("skills", df)
    by_source = dict(df.group_by("source").len().iter_rows()) if df.height else {}
    return {"rows": df.height, "by_source": by_source, "seconds": round(time.perf_counter() - t0, 2)}
