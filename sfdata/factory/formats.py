"""Trace formats: pick samples for one question and stitch them into one assistant message.

Pure functions of (samples, rng, options): no I/O, so they are easy to property-test.

    <think>
    <sample>
    {response}
    </sample>
    <reflect>
    {reflection ending in <verdict>..</verdict>}
    </reflect>
    {glue: retry after Incorrect, double-check after Correct}
    ...
    </think>

    {ending phrase}

    <answer>
    {final answer}
    </answer>
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import NamedTuple

from sfdata import grammar as g
from sfdata.factory import phrases
from sfdata.factory.registry import ABLATIONS, FORMATS, get_format
from sfdata.grammar import has_structural_tag

__all__ = ["ABLATIONS", "FORMATS", "Sample", "Skip", "Step", "Trace", "choose", "is_clean", "render", "usable"]


class Sample(NamedTuple):
    """One graded response (a NamedTuple: created ~10^6 times per large build, so creation must be cheap)."""

    rollout_id: str
    variant: str
    response: str
    answer: str | None  # extracted final answer of the response
    is_correct: bool
    reflections: tuple[tuple[str, str], ...] = ()  # valid (reflection_id, text) written for this rollout
    clean: bool | None = None  # precomputed (vectorised) "non-empty, no structural tags, has an answer"


@dataclass
class Step:
    sample: Sample
    reflection: tuple[str, str] | None  # (id, text) or None when reflections are off
    glue: str = ""  # phrase after this step ("" for the last)


@dataclass
class Trace:
    format: str
    steps: list[Step]
    final: Sample  # the sample whose answer is the final answer
    tail: list[str] = field(default_factory=list)  # extra blocks before </think> (backtrack / confirm)
    tail_sample: Sample | None = None  # *C*IC: the repeated earlier correct sample
    n_backtracks: int = 0
    n_confirms: int = 0

    @property
    def rollout_ids(self) -> list[str]:
        ids = [s.sample.rollout_id for s in self.steps]
        return ids + ([self.tail_sample.rollout_id] if self.tail_sample else [])

    @property
    def reflection_ids(self) -> list[str]:
        ids = [s.reflection[0] if s.reflection else "" for s in self.steps]
        return ids + ([""] if self.tail_sample else [])

    @property
    def variants(self) -> list[str]:
        vs = [s.sample.variant for s in self.steps]
        return vs + ([self.tail_sample.variant] if self.tail_sample else [])


class Skip(Exception):
    """This question cannot satisfy the format; `reason` is counted, never fatal."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_clean(response: str, answer: str | None) -> bool:
    """Non-empty, has an answer, and holds no structural tag (in any spelling the grammar reads)."""
    return bool(response.strip()) and answer is not None and not has_structural_tag(response)


def _choice(rng: random.Random, seq):
    """rng.choice without the Python-level rejection sampling (hot loop; uniform to 2^-53)."""
    return seq[int(rng.random() * len(seq))]


def _shuffle(rng: random.Random, items: list) -> None:
    """In-place Fisher-Yates on rng.random() (a C call), several times cheaper than rng.shuffle."""
    rand = rng.random
    for i in range(len(items) - 1, 0, -1):
        j = int(rand() * (i + 1))
        items[i], items[j] = items[j], items[i]


def usable(s: Sample, need_reflection: bool) -> bool:
    if not (s.clean if s.clean is not None else is_clean(s.response, s.answer)):
        return False
    return bool(s.reflections) or not need_reflection


def _pick(pool: list[Sample], k: int, rng: random.Random, unique_variants: bool, used: dict[str, str]) -> list[Sample]:
    """k samples from pool not used yet in this trace, preferring prompt variants the trace has least.

    `used` maps the trace's rollout ids to their variants and is shared by every pick of one trace,
    so prompt diversity holds across the whole trace (a prefix avoids the final sample's variant),
    not only within one pick. Ties are broken by a seeded shuffle.
    """
    pool = [s for s in pool if s.rollout_id not in used]
    if k > len(pool):
        raise Skip("too_few_samples")
    _shuffle(rng, pool)
    if not unique_variants:
        chosen = pool[:k]
    else:
        counts: dict[str, int] = {}
        for v in used.values():
            counts[v] = counts.get(v, 0) + 1
        chosen = []
        for _ in range(k):
            best, least = 0, -1  # the first sample (in shuffled order) of a least-used variant
            for i, cand in enumerate(pool):
                c = counts.get(cand.variant, 0)
                if least < 0 or c < least:
                    best, least = i, c
                    if c == 0:
                        break
            s = pool.pop(best)
            counts[s.variant] = counts.get(s.variant, 0) + 1
            chosen.append(s)
    used.update((s.rollout_id, s.variant) for s in chosen)
    return chosen


def _steps(samples: list[Sample], rng: random.Random, with_reflections: bool) -> list[Step]:
    """Steps with their reflection and glue; without reflections the glue is verdict-neutral (phrases.GENERIC)."""
    after_correct, after_incorrect, _, _ = phrases.glue_pools(with_reflections)
    out = []
    for i, s in enumerate(samples):
        refl = _choice(rng, s.reflections) if with_reflections and s.reflections else None
        glue = ""
        if i < len(samples) - 1:
            glue = _choice(rng, after_correct if s.is_correct else after_incorrect)
        out.append(Step(s, refl, glue))
    return out


@dataclass
class _Pool:
    """One question's usable samples for one format, and the picking state shared by its helpers."""

    cands: list[Sample]
    correct: list[Sample]
    incorrect: list[Sample]
    rng: random.Random
    unique_variants: bool
    with_refl: bool
    sample_order: bool
    used: dict[str, str] = field(default_factory=dict)  # rollout id -> variant, for every sample this trace holds
    star_per_question: int = 0  # STaR: correct samples per question (0 = all)

    def pick(self, pool: list[Sample], k: int, unique: bool | None = None) -> list[Sample]:
        return _pick(pool, k, self.rng, self.unique_variants if unique is None else unique, self.used)


def choose(
    fmt: str,
    samples: list[Sample],
    n: int,
    rng: random.Random,
    *,
    reflections: bool = True,
    unique_variants: bool = True,
    sample_order: bool = True,
    star_per_question: int = 0,
) -> list[Trace]:
    """Traces of format `fmt` for one question (several for *C_full and star). Raises Skip with a reason.

    `star_per_question`: the STaR baseline's correct samples per question, one trace each (0 = all of them)."""
    need_refl = reflections and get_format(fmt).uses_reflections
    cands = [s for s in samples if usable(s, need_refl)]
    p = _Pool(
        cands,
        [s for s in cands if s.is_correct],
        [s for s in cands if not s.is_correct],
        rng,
        unique_variants,
        need_refl,
        sample_order,
        star_per_question=star_per_question,
    )
    return _BY_SHAPE[get_format(fmt).shape](fmt, p, max(1, n))


def _star(fmt: str, p: _Pool, n: int) -> list[Trace]:
    if not p.correct:
        raise Skip("no_correct")
    k = len(p.correct) if p.star_per_question <= 0 else min(p.star_per_question, len(p.correct))
    return [Trace(fmt, [Step(s, None)], final=s) for s in p.pick(p.correct, k, unique=False)]


def _ends_correct(fmt: str, p: _Pool, n: int) -> list[Trace]:
    """0C, *C: the last sample is correct; the N-1 before it come from every usable sample, right or wrong
    (none for 0C). *C_full, no_reflection: one such trace for each length 1..N, each a fresh draw (the
    official construction: samples drawn anew inside the loop over N)."""
    if not p.correct:
        raise Skip("no_correct")
    shape = get_format(fmt).shape
    if shape == "per_length":
        refl = p.with_refl
        out = []
        for k in range(min(n, len(p.cands))):  # k samples before the correct one
            p.used = {}  # a fresh draw: nothing of the shorter traces is held
            final = p.pick(p.correct, 1)[0]
            prefix = p.pick([s for s in p.cands if s.rollout_id != final.rollout_id], k) if k else []
            out.append(_make(fmt, prefix + [final], final, p.rng, refl, p.sample_order))
        return out
    final = p.pick(p.correct, 1)[0]
    others = [s for s in p.cands if s.rollout_id != final.rollout_id]
    n_before = 0 if shape == "one_correct" else min(n - 1, len(others))
    prefix = p.pick(others, n_before) if n_before else []
    return [_make(fmt, prefix + [final], final, p.rng, p.with_refl, p.sample_order)]


def _two_correct(fmt: str, p: _Pool, n: int) -> list[Trace]:
    """*CC: a *C trace whose last two samples are correct, then a confirm phrase."""
    if len(p.correct) < 2:
        raise Skip("fewer_than_two_correct")
    finals = p.pick(p.correct, 2)
    others = [s for s in p.cands if s.rollout_id not in p.used]
    n_before = min(max(0, n - 2), len(others))
    prefix = p.pick(others, n_before) if n_before else []
    t = _make(fmt, prefix + finals, finals[-1], p.rng, p.with_refl, p.sample_order)
    t.tail = [_choice(p.rng, phrases.glue_pools(p.with_refl)[3])]
    t.n_confirms = 1
    return [t]


def _backtrack(fmt: str, p: _Pool, n: int) -> list[Trace]:
    """*C*IC: a correct sample earlier, an incorrect one last, then a backtrack to the correct one."""
    if not p.correct:
        raise Skip("no_correct")
    if not p.incorrect:
        raise Skip("no_incorrect")
    good = p.pick(p.correct, 1)[0]
    n_inc = min(max(1, n - 1), len(p.incorrect))
    wrong = p.pick(p.incorrect, n_inc)
    split = p.rng.randint(0, len(wrong) - 1)  # incorrect ones before the correct; at least one after
    seq = wrong[:split] + [good] + wrong[split:]
    t = _make(fmt, seq, good, p.rng, p.with_refl, sample_order=True)
    t.tail = [_choice(p.rng, phrases.glue_pools(p.with_refl)[2])]
    t.tail_sample = good
    t.n_backtracks = 1
    return [t]


def _random(fmt: str, p: _Pool, n: int) -> list[Trace]:
    k = min(n, len(p.cands))
    if k == 0:
        raise Skip("no_usable_sample")
    seq = p.pick(p.cands, k)
    return [_make(fmt, seq, seq[-1], p.rng, p.with_refl, sample_order=True)]


_BY_SHAPE = {  # a format record's shape -> its builder (sfdata.factory.registry)
    "raw_correct": _star,
    "one_correct": _ends_correct,
    "ends_correct": _ends_correct,
    "per_length": _ends_correct,
    "two_correct": _two_correct,
    "backtrack": _backtrack,
    "any": _random,
}


def _make(fmt: str, seq: list[Sample], final: Sample, rng: random.Random, with_refl: bool, sample_order: bool) -> Trace:
    if not sample_order and len(seq) > 1 and seq[-1] is final:
        # ablation: the correct sample is not placed last
        pos = rng.randrange(0, len(seq) - 1)
        seq = seq[:-1]
        seq.insert(pos, final)
    return Trace(fmt, _steps(seq, rng, with_refl), final)


def render(trace: Trace, rng: random.Random) -> str:
    """The assistant message for a trace (the STaR baseline is the raw correct response)."""
    if get_format(trace.format).shape == "raw_correct":
        return trace.steps[0].sample.response.strip()
    parts = [g.THINK_OPEN]
    for step in trace.steps:
        parts += [g.SAMPLE_OPEN, step.sample.response.strip(), g.SAMPLE_CLOSE]
        if step.reflection is not None:
            parts += [g.REFLECT_OPEN, step.reflection[1].strip(), g.REFLECT_CLOSE]
        if step.glue:
            parts.append(step.glue)
    parts += trace.tail
    if trace.tail_sample is not None:
        parts += [g.SAMPLE_OPEN, trace.tail_sample.response.strip(), g.SAMPLE_CLOSE]
    parts.append(g.THINK_CLOSE)
    body = g.PART_SEP.join(parts)
    ending = _choice(rng, phrases.ENDING)
    answer = g.PART_SEP.join([g.ANSWER_OPEN, str(trace.final.answer), g.ANSWER_CLOSE])
    return g.ENDING_SEP.join([body, ending, answer])
