"""Rich renderables for traces: tags, samples, reflections, verdicts, glue and answers styled apart."""

from __future__ import annotations

from rich.text import Text

from tui.data import segments

STYLES = {
    "tag": "dim",
    "sample": "",
    "reflect": "italic #8fbcbb",
    "verdict": "bold",
    "answer": "bold #ebcb8b",
    "glue": "#b48ead",
}


def verdict_style(text: str) -> str:
    t = text.strip().lower()
    return "bold #a3be8c" if t == "correct" else "bold #bf616a" if t == "incorrect" else "bold"


def trace_text(trace: str, outside: str = "glue") -> Text:
    """The whole trace as one Text with a style per segment kind (`outside`: style for untagged text)."""
    out = Text()
    for kind, piece in segments(trace):
        kind = outside if kind == "glue" else kind
        if kind == "tag":
            name = piece.strip("</>").lower()
            style = {
                "sample": "bold #81a1c1",
                "reflect": "bold #88c0d0",
                "verdict": "dim",
                "answer": "bold #ebcb8b",
            }.get(name, "dim")
            out.append(piece, style=style)
        elif kind == "verdict":
            out.append(piece, style=verdict_style(piece))
        else:
            out.append(piece, style=STYLES.get(kind, ""))
    return out


def block_text(kind: str, text: str) -> Text:
    """One block of the trace view (a sample body, a reflection, glue, the answer)."""
    if kind == "reflect":
        t = Text(style=STYLES["reflect"])
        t.append_text(trace_text(text, outside="reflect"))
        return t
    if kind == "glue":
        return Text(text, style=STYLES["glue"])
    if kind == "answer":
        return Text(text.strip(), style=STYLES["answer"])
    return trace_text(text, outside="sample")
