"""Skill detector: what cognitive skills does a trace or model output show?

Tagged skills come from the trace grammar (`<sample>`, `<reflect>`, `<verdict>`): attempts,
verifications, retries after an Incorrect verdict, backtracks to an earlier verified answer,
confirmations. Untagged cues ("wait", "let me verify", "alternatively", "let me check") make
R1/QwQ-style and base-model outputs comparable with tagged traces. Malformed text (unbalanced
or out-of-order tags) is flagged, never fatal.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from sfdata.store import RunDir
from sfdata.store.schemas import SKILLS
from sfdata.tasks import Question, extract_answer, get_task

_TAG = re.compile(r"<\s*(/?)\s*(think|sample|reflect|answer)\s*>", re.IGNORECASE)
_SAMPLE_BLOCK = re.compile(r"<sample>(.*?)</sample>", re.IGNORECASE | re.DOTALL)
_VERDICT = re.compile(r"<\s*verdict\s*>\s*(correct|incorrect)\s*<\s*/\s*verdict\s*>", re.IGNORECASE)
_BACKTRACK_CUE = re.compile(
    r"\b(go(?:ing)? back|backtrack\w*|return to (?:it|my earlier)|earlier (?:answer|solution|attempt))\b", re.I
)

CUES: dict[str, str] = {
    "cue_wait": r"\bwait\b",
    "cue_verify": r"\b(?:let me|let's|i(?:'ll| will)) (?:verify|double[- ]check)\b|\bverif(?:y|ying|ication)\b",
    "cue_alternatively": r"\balternatively\b|\banother (?:approach|way)\b",
    "cue_check": r"\blet me (?:check|re-?check)\b|\bchecking\b",
}
_CUE_RE = {k: re.compile(v, re.IGNORECASE) for k, v in CUES.items()}


@dataclass
class SkillCounts:
    n_samples: int = 0
    n_reflections: int = 0
    n_verdicts: int = 0
    n_verdict_correct: int = 0
    n_verdict_incorrect: int = 0
    n_verdict_right: int | None = None  # verdicts matching the real grade of their sample (needs the question)
    n_retries: int = 0
    n_backtracks: int = 0
    n_confirms: int = 0
    final_matches_last: bool | None = None
    cue_wait: int = 0
    cue_verify: int = 0
    cue_alternatively: int = 0
    cue_check: int = 0
    malformed: bool = False


def well_formed(text: str) -> bool:
    """Tags balanced, not nested where they must not be, and sample/reflect only inside <think>."""
    stack: list[str] = []
    for m in _TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if not closing:
            if name in stack:
                return False
            if name in ("sample", "reflect") and ("sample" in stack or "reflect" in stack):
                return False
            stack.append(name)
        else:
            if not stack or stack[-1] != name:
                return False
            stack.pop()
    return not stack


def _events(text: str) -> list[tuple[str, Any]]:
    """Ordered events: ("sample", answer) and ("verdict", "Correct"|"Incorrect")."""
    ev: list[tuple[int, str, Any]] = []
    for m in _SAMPLE_BLOCK.finditer(text):
        ev.append((m.start(), "sample", extract_answer(m.group(1))))
    for m in _VERDICT.finditer(text):
        ev.append((m.start(), "verdict", "Correct" if m.group(1).lower() == "correct" else "Incorrect"))
    ev.sort(key=lambda e: e[0])
    return [(k, v) for _, k, v in ev]


def detect(text: str | None, question: Question | None = None, task: Any = None) -> SkillCounts:
    text = text or ""
    c = SkillCounts()
    c.malformed = not well_formed(text)
    c.n_samples = len(re.findall(r"<sample>", text, re.IGNORECASE))
    c.n_reflections = len(re.findall(r"<reflect>", text, re.IGNORECASE))
    for key, rx in _CUE_RE.items():
        setattr(c, key, len(rx.findall(text)))
    events = _events(text)
    verdicts = [v for k, v in events if k == "verdict"]
    c.n_verdicts = len(verdicts)
    c.n_verdict_correct = sum(v == "Correct" for v in verdicts)
    c.n_verdict_incorrect = c.n_verdicts - c.n_verdict_correct
    if question is not None and task is not None:
        c.n_verdict_right = 0
    last_answer: str | None = None
    last_verdict: str | None = None
    verified: set[str] = set()  # answers of samples verified Correct
    saw_incorrect_since = False
    prev_correct_answer: str | None = None
    sample_answers: list[str | None] = []
    for kind, val in events:
        if kind == "sample":
            if last_verdict == "Incorrect":
                c.n_retries += 1
            if val is not None and val in verified and saw_incorrect_since:
                c.n_backtracks += 1
            sample_answers.append(val)
            last_answer, last_verdict = val, None
        else:
            if val == "Correct" and last_answer is not None:
                if prev_correct_answer is not None and _same(prev_correct_answer, last_answer):
                    c.n_confirms += 1
                prev_correct_answer = last_answer
                verified.add(last_answer)
                saw_incorrect_since = False
            elif val == "Incorrect":
                saw_incorrect_since = bool(verified)
            if c.n_verdict_right is not None and last_verdict is None:
                truth = task.grade(question, last_answer).is_correct if last_answer is not None else False
                c.n_verdict_right += int((val == "Correct") == truth)
            last_verdict = val
    if c.n_backtracks == 0 and verified and _BACKTRACK_CUE.search(text):
        c.n_backtracks = len(_BACKTRACK_CUE.findall(text))
    if sample_answers:
        tail = text.rsplit("</think>", 1)[-1] if "</think>" in text.lower() else ""
        final = extract_answer(tail) if tail else None
        c.final_matches_last = final is not None and sample_answers[-1] is not None and _same(final, sample_answers[-1])
    return c


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def count_cues_frame(df: pl.DataFrame, text_col: str) -> pl.DataFrame:
    """Vectorised tag and cue counts for many texts (Polars regex kernels, no Python loop)."""
    t = pl.col(text_col)
    exprs = [
        t.str.count_matches(r"(?i)<sample>").cast(pl.Int32).alias("n_samples"),
        t.str.count_matches(r"(?i)<reflect>").cast(pl.Int32).alias("n_reflections"),
        t.str.count_matches(r"(?i)<verdict>\s*correct\s*</verdict>").cast(pl.Int32).alias("n_verdict_correct"),
        t.str.count_matches(r"(?i)<verdict>\s*incorrect\s*</verdict>").cast(pl.Int32).alias("n_verdict_incorrect"),
    ]
    exprs += [t.str.count_matches("(?i)" + rx).cast(pl.Int32).alias(k) for k, rx in CUES.items()]
    return df.with_columns(exprs)


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
        rows.append({"id": id_, "source": source, **asdict(c)})
    return pl.DataFrame(rows, schema=SKILLS) if rows else pl.DataFrame(schema=SKILLS)


def skills_stage(run: RunDir) -> dict[str, Any]:
    """Detect skills over the run's traces, rollouts and eval outputs -> skills.parquet."""
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
        frames.append(
            skills_frame(list(ev.select("eval_id", "response", "question_id").iter_rows()), "eval", questions)
        )
    df = pl.concat(frames) if frames else pl.DataFrame(schema=SKILLS)
    run.write("skills", df)
    by_source = dict(df.group_by("source").len().iter_rows()) if df.height else {}
    return {"rows": df.height, "by_source": by_source, "seconds": round(time.perf_counter() - t0, 2)}
