"""Rich renderables for traces: tags, samples, reflections, verdicts, glue and answers styled apart.

Every colour the inspector uses is in `PALETTE`; the app registers it as theme variables
(`$sf-correct`, ...) so `app.tcss` and these renderables share one set of colours.
"""

from __future__ import annotations

import difflib
import re

from rich.text import Text

from tui.tags import segments, tag_name

PALETTE: dict[str, str] = {
    "sf-correct": "#a3be8c",
    "sf-incorrect": "#bf616a",
    "sf-sample": "#81a1c1",
    "sf-reflect": "#88c0d0",
    "sf-answer": "#ebcb8b",
    "sf-glue": "#b48ead",
    "sf-match": "#5e81ac",
    "sf-diff-del": "#4c2a2e",
    "sf-diff-add": "#2e4c33",
}
C = PALETTE
STYLES = {
    "tag": "dim",
    "sample": "",
    "reflect": f"italic {C['sf-reflect']}",
    "verdict": "bold",
    "answer": f"bold {C['sf-answer']}",
    "glue": C["sf-glue"],
}
_TAG_STYLES = {
    "sample": f"bold {C['sf-sample']}",
    "reflect": f"bold {C['sf-reflect']}",
    "verdict": "dim",
    "answer": f"bold {C['sf-answer']}",
}


def verdict_style(text: str) -> str:
    t = text.strip().lower()
    return f"bold {C['sf-correct']}" if t == "correct" else f"bold {C['sf-incorrect']}" if t == "incorrect" else "bold"


def ok_text(ok: bool | None, yes: str = "✓", no: str = "✗") -> Text:
    """A green tick, a red cross, or ? when unknown."""
    if ok is None:
        return Text("? ungraded" if len(yes) > 2 else "?", style="dim")
    return Text(yes, style=C["sf-correct"]) if ok else Text(no, style=C["sf-incorrect"])


def highlight(text: Text, term: str) -> Text:
    """Mark every case-insensitive occurrence of `term` (the search box) in `text`."""
    if term:
        text.highlight_regex(re.compile(re.escape(term), re.I), style=f"bold reverse {C['sf-match']}")
    return text


def trace_text(trace: str, outside: str = "glue", search: str = "") -> Text:
    """The whole trace as one Text with a style per segment kind (`outside`: style for untagged text)."""
    out = Text()
    for kind, piece in segments(trace):
        kind = outside if kind == "glue" else kind
        if kind == "tag":
            out.append(piece, style=_TAG_STYLES.get(tag_name(piece) or "", "dim"))
        elif kind == "verdict":
            out.append(piece, style=verdict_style(piece))
        else:
            out.append(piece, style=STYLES.get(kind, ""))
    return highlight(out, search)


def block_text(kind: str, text: str, search: str = "") -> Text:
    """One block of the trace view (a sample body, a reflection, glue, the answer)."""
    if kind == "reflect":
        t = Text(style=STYLES["reflect"])
        t.append_text(trace_text(text, outside="reflect"))
    elif kind == "glue":
        t = Text(text, style=STYLES["glue"])
    elif kind == "answer":
        t = Text(text.strip(), style=STYLES["answer"])
    else:
        t = trace_text(text, outside="sample")
    return highlight(t, search)


def diff_texts(left: str, right: str) -> tuple[Text, Text]:
    """Two traces line by line: lines only in the left on red, only in the right on green."""
    a, b = (left or "").splitlines(), (right or "").splitlines()
    lt, rt = Text(), Text()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for line in a[i1:i2]:
            t = trace_text(line + "\n")
            if op != "equal":
                t.stylize(f"on {C['sf-diff-del']}")
            lt.append_text(t)
        for line in b[j1:j2]:
            t = trace_text(line + "\n")
            if op != "equal":
                t.stylize(f"on {C['sf-diff-add']}")
            rt.append_text(t)
    return lt, rt
