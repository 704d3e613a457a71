"""The trace grammar, in one place: tag names, the tag scanner, answer extraction, verdicts,
well-formedness, segmentation and the skill cue regexes.

Everything that reads `<think>/<sample>/<reflect>/<verdict>/<answer>` (grader, reflect stage,
factory, skills detector, inspector, budget forcing) calls this module, so a tag means the same
thing everywhere. Tags are case-insensitive and tolerate spaces inside the brackets (`< /Answer >`).

Parsing is one left-to-right pass over the tags and bounded: a text with more than `MAX_TAGS`
tags is refused (answer extraction, verdicts) or reported (`Scan.over_limit`), never scanned
quadratically. Untrusted model output can be megabytes of `<answer>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

TAG_NAMES = ("think", "sample", "reflect", "verdict", "answer")
STRUCTURAL = ("think", "sample", "reflect")  # tags only the factory may write (a response holding one is unusable)
# The trace layout, as every writer of traces writes it (the reference builder, the vectorised factory, the
# forced verdict): canonical tags and the separators between a trace's parts. The reader below accepts more
# spellings; what we write is exactly this.
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
SAMPLE_OPEN, SAMPLE_CLOSE = "<sample>", "</sample>"
REFLECT_OPEN, REFLECT_CLOSE = "<reflect>", "</reflect>"
VERDICT_OPEN, VERDICT_CLOSE = "<verdict>", "</verdict>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
PART_SEP = "\n"  # between the parts of a trace (tags, responses, reflections, phrases), and inside <answer>
ENDING_SEP = "\n\n"  # around the ending phrase between </think> and <answer>
#: canonical spellings, as the factory writes them
STRUCTURAL_TAGS = (THINK_OPEN, THINK_CLOSE, SAMPLE_OPEN, SAMPLE_CLOSE, REFLECT_OPEN, REFLECT_CLOSE)
#: one regex for any structural tag; valid in Python `re`, Rust regex (Polars) and RE2 (DuckDB)
STRUCTURAL_TAG_PATTERN = r"(?i)<\s*/?\s*(?:think|sample|reflect)\s*>"
VERDICTS = ("Correct", "Incorrect")
#: more tags than this in one text is not a trace but junk (a real 64-sample trace has ~400)
MAX_TAGS = 10_000
#: a verdict tag's content longer than this is not a verdict word (no need to strip megabytes)
_MAX_VERDICT_BODY = 64

_TAG = re.compile(r"<\s*(/?)\s*(think|sample|reflect|verdict|answer)\s*>", re.IGNORECASE)
_STRUCTURAL_RE = re.compile(STRUCTURAL_TAG_PATTERN)
_ECHO_AFTER = re.compile(r"[ \t]*(?:if|or|when)\b", re.IGNORECASE)  # same line: the instruction read back

#: untagged skill cues (R1/QwQ style); the skills table and the inspector's filters both use these
CUES: dict[str, str] = {
    "cue_wait": r"\bwait\b",
    "cue_verify": r"\b(?:let me|let's|i(?:'ll| will)) (?:verify|double[- ]check)\b|\bverif(?:y|ying|ication)\b",
    "cue_alternatively": r"\balternatively\b|\banother (?:approach|way)\b",
    "cue_check": r"\blet me (?:check|re-?check)\b|\bchecking\b",
}
CUE_RE: dict[str, re.Pattern[str]] = {k: re.compile(v, re.IGNORECASE) for k, v in CUES.items()}
BACKTRACK_CUE = re.compile(
    r"\b(go(?:ing)? back|backtrack\w*|return to (?:it|my earlier)|earlier (?:answer|solution|attempt))\b", re.I
)


class Tag(NamedTuple):
    name: str  # lower-case tag name
    closing: bool
    start: int  # span of the tag text itself
    end: int


@dataclass(frozen=True)
class Scan:
    """All grammar tags of a text in order; `over_limit` when there were more than `limit` (then `tags` is cut)."""

    text: str
    tags: list[Tag]
    over_limit: bool = False

    @property
    def problem(self) -> str | None:
        return f"more than {MAX_TAGS:,} tags" if self.over_limit else None


def scan(text: str | None, limit: int = MAX_TAGS) -> Scan:
    """One pass of the tag regex; stops after `limit` tags (the regex is linear: it anchors on `<`)."""
    text = text or ""
    tags: list[Tag] = []
    for m in _TAG.finditer(text):
        if len(tags) >= limit:
            return Scan(text, tags, over_limit=True)
        tags.append(Tag(m.group(2).lower(), m.group(1) == "/", m.start(), m.end()))
    return Scan(text, tags)


def tag_name(piece: str) -> str | None:
    """The grammar tag name of one tag's text (`'< /Sample >'` -> `'sample'`), None if it is not a tag."""
    m = _TAG.fullmatch(piece)
    return m.group(2).lower() if m else None


def has_structural_tag(text: str) -> bool:
    """True if `text` holds a `<think>/<sample>/<reflect>` tag (open or close), in any spelling."""
    return _STRUCTURAL_RE.search(text) is not None


# ---- answers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    text: str | None  # inside the last complete <answer>...</answer>, stripped; None if none
    problem: str | None = None  # why there is none: no_answer_tag | unclosed_answer | empty_answer | too many tags


def _last_answer(tags: list[Tag]) -> tuple[int, int] | None:
    """(content start, content end) of the last `</answer>` and the nearest `<answer>` before it."""
    close: Tag | None = None
    for t in reversed(tags):
        if t.name != "answer":
            continue
        if close is None:
            if t.closing:
                close = t
        elif not t.closing:
            return t.end, close.start
    return None


def find_answer(text: str | None, sc: Scan | None = None) -> Answer:
    """The final answer with the reason when there is none (a text over the tag cap is refused)."""
    if not text:
        return Answer(None, "no_answer_tag")
    sc = sc or scan(text)
    if sc.over_limit:
        return Answer(None, f"refused: {sc.problem}")
    span = _last_answer(sc.tags)
    if span is None:
        opened = any(t.name == "answer" for t in sc.tags)
        return Answer(None, "unclosed_answer" if opened else "no_answer_tag")
    inner = text[span[0] : span[1]].strip()
    return Answer(inner or None, None if inner else "empty_answer")


def extract_answer(text: str | None) -> str | None:
    """Text inside the LAST complete `<answer>...</answer>`, stripped; None if there is none."""
    return find_answer(text).text


def think_close(text: str | None) -> int | None:
    """Start of the last `</think>` tag, None if the text never closes thinking (budget forcing cuts there)."""
    sc = scan(text)
    for t in reversed(sc.tags):
        if t.name == "think" and t.closing:
            return t.start
    return None


# ---- verdicts -------------------------------------------------------------------------------
class Verdict(NamedTuple):
    value: str | None  # "Correct" | "Incorrect" | None (tag closed around something else)
    start: int  # of the opening tag
    end: int  # after the closing tag


@dataclass(frozen=True)
class VerdictRead:
    verdict: str | None  # the one unambiguous verdict, else None
    problem: str | None = None  # why none: see read_verdict
    closed: list[Verdict] = field(default_factory=list)
    unclosed_at: int | None = None  # start of the first `<verdict>` that is never closed


def verdicts(sc: Scan) -> tuple[list[Verdict], int | None]:
    """Closed verdict tags in order, and where the first unclosed `<verdict>` opens (None if none)."""
    out: list[Verdict] = []
    unclosed: int | None = None
    tags = sc.tags
    i = 0
    while i < len(tags):
        t = tags[i]
        if t.name == "verdict" and not t.closing:
            nxt = tags[i + 1] if i + 1 < len(tags) else None
            if nxt is not None and nxt.name == "verdict" and nxt.closing:
                body = sc.text[t.end : nxt.start] if nxt.start - t.end <= _MAX_VERDICT_BODY else ""
                word = body.strip().lower()
                value = "Correct" if word == "correct" else "Incorrect" if word == "incorrect" else None
                out.append(Verdict(value, t.start, nxt.end))
                i += 2
                continue
            if unclosed is None:
                unclosed = t.start
        i += 1
    return out, unclosed


def read_verdict(text: str | None) -> VerdictRead:
    """The verdict of a reflection, or why it has none.

    A reflection has a verdict only if it holds exactly one closed `<verdict>Correct|Incorrect</verdict>`
    and no unclosed `<verdict>`. Problems: no_verdict, unclosed_verdict, unknown_verdict (tag around
    another word), contradictory_verdicts, several_verdicts, echoed_instruction (`<verdict>Correct</verdict>
    if ...`, the prompt's instruction line repeated), too_many_tags.
    """
    if not text:
        return VerdictRead(None, "no_verdict")
    sc = scan(text)
    if sc.over_limit:
        return VerdictRead(None, "too_many_tags")
    closed, unclosed = verdicts(sc)
    values = {v.value for v in closed}
    problem: str | None = None
    if {"Correct", "Incorrect"} <= values:
        problem = "contradictory_verdicts"
    elif any(_ECHO_AFTER.match(text, v.end) for v in closed):
        problem = "echoed_instruction"
    elif unclosed is not None:
        problem = "unclosed_verdict"
    elif not closed:
        problem = "no_verdict"
    elif None in values:
        problem = "unknown_verdict"
    elif len(closed) > 1:
        problem = "several_verdicts"
    if problem:
        return VerdictRead(None, problem, closed, unclosed)
    return VerdictRead(closed[0].value, None, closed, unclosed)


def parse_verdict(text: str | None) -> str | None:
    """'Correct' | 'Incorrect' when the text holds exactly one unambiguous closed verdict, else None."""
    return read_verdict(text).verdict


# ---- well-formedness ----------------------------------------------------------------------
def well_formed(text: str | None, sc: Scan | None = None) -> bool:
    """Tags balanced, no tag nested in itself, sample/reflect never inside each other; over the tag cap is not."""
    sc = sc or scan(text)
    if sc.over_limit:
        return False
    stack: list[str] = []
    for t in sc.tags:
        if t.name == "verdict":  # verdicts are checked by read_verdict, not by the block structure
            continue
        if not t.closing:
            if t.name in stack:
                return False
            if t.name in ("sample", "reflect") and ("sample" in stack or "reflect" in stack):
                return False
            stack.append(t.name)
        else:
            if not stack or stack[-1] != t.name:
                return False
            stack.pop()
    return not stack


# ---- segmentation -------------------------------------------------------------------------
class Block(NamedTuple):
    kind: str  # sample | reflect | answer | glue (between blocks, inside <think>) | ending (after </think>)
    text: str


_BLOCK_NAMES = ("sample", "reflect", "answer")


def blocks(text: str | None) -> list[Block]:
    """Top-level blocks in order: each `<sample>`, `<reflect>`, `<answer>` that is closed, and the text between.

    A block ends at the first matching close tag; an opened block that is never closed is plain text.
    Text between blocks is `glue` until `</think>`, `ending` after it; think tags themselves are dropped.
    Over the tag cap, the tags past the cap are plain text.
    """
    text = text or ""
    sc = scan(text)
    last_close: dict[str, int] = {}
    for i, t in enumerate(sc.tags):
        if t.closing:
            last_close[t.name] = i
    out: list[Block] = []
    gap: list[str] = []
    pos = 0
    after_think = False
    open_tag: Tag | None = None

    def flush(end: int) -> None:
        gap.append(text[pos:end])
        g = "".join(gap).strip()
        if g:
            out.append(Block("ending" if after_think else "glue", g))
        gap.clear()

    for i, t in enumerate(sc.tags):
        if open_tag is not None:
            if t.name == open_tag.name and t.closing:
                out.append(Block(t.name, text[open_tag.end : t.start].strip("\n")))
                open_tag, pos = None, t.end
            continue
        if t.name == "think":  # dropped from the text; `</think>` ends the glue and starts the ending
            gap.append(text[pos : t.start])
            pos = t.end
            if t.closing:
                flush(pos)
                after_think = True
            continue
        if t.name in _BLOCK_NAMES and not t.closing and last_close.get(t.name, -1) > i:
            flush(t.start)
            open_tag = t
    flush(len(text))
    return out


def segments(text: str | None) -> list[tuple[str, str]]:
    """Fine-grained (kind, text) pieces for colouring: kind is tag | sample | reflect | verdict | answer | glue.

    A text piece takes the kind of the innermost open tag among verdict/answer/reflect/sample.
    """
    text = text or ""
    sc = scan(text)
    out: list[tuple[str, str]] = []
    stack: list[str] = []
    pos = 0

    def piece(end: int) -> None:
        if end > pos:
            inner = next((s for s in reversed(stack) if s in ("verdict", "answer", "reflect", "sample")), None)
            out.append((inner or "glue", text[pos:end]))

    for t in sc.tags:
        piece(t.start)
        if t.closing:
            if t.name in stack:
                while stack and stack.pop() != t.name:
                    pass
        else:
            stack.append(t.name)
        out.append(("tag", text[t.start : t.end]))
        pos = t.end
    piece(len(text))
    return out


@dataclass
class TraceParts:
    """A trace cut along the grammar: what the factory assembled, read back."""

    samples: list[str] = field(default_factory=list)
    reflections: list[str] = field(default_factory=list)
    glue: list[str] = field(default_factory=list)
    ending: str = ""
    answer: str | None = None
    well_formed: bool = True


def segment(text: str | None) -> TraceParts:
    """Samples, reflections, glue phrases, the ending phrase and the final answer of a trace."""
    parts = TraceParts(well_formed=well_formed(text))
    endings = []
    for b in blocks(text):
        if b.kind == "sample":
            parts.samples.append(b.text.strip())
        elif b.kind == "reflect":
            parts.reflections.append(b.text.strip())
        elif b.kind == "glue":
            parts.glue.append(b.text)
        elif b.kind == "ending":
            endings.append(b.text)
        else:
            parts.answer = b.text.strip() or None
    parts.ending = "\n".join(endings)
    return parts
