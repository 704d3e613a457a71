"""Every piece of trace grammar the inspector uses, in one place: a thin view over `sfdata.grammar`.

The inspector needs three things from the grammar: tag segments for colouring, top-level blocks
for the trace view, and the skill cues as SQL-usable regexes. All three come from `sfdata.grammar`,
so the inspector reads a trace exactly as the factory, the grader and `sf skills` do.
"""

from __future__ import annotations

from sfdata import grammar


def cue_patterns() -> dict[str, str]:
    """Skill cue name (wait, verify, ...) -> regex, the same ones `sf skills` counts."""
    return {name.removeprefix("cue_"): rx for name, rx in grammar.CUES.items()}


def tag_name(piece: str) -> str | None:
    """The tag name of one ("tag", piece) segment (`'< /Sample >'` -> `'sample'`)."""
    return grammar.tag_name(piece)


def segments(trace: str) -> list[tuple[str, str]]:
    """Split a trace into (kind, text): kind is sample | reflect | verdict | answer | glue | tag."""
    return grammar.segments(trace)


def split_samples(trace: str) -> list[tuple[str, str]]:
    """Top-level blocks for the trace view: ("sample", text) | ("reflect", text) | ("glue", text) | ("answer", text)."""
    out: list[tuple[str, str]] = []
    for b in grammar.blocks(trace):
        kind = "glue" if b.kind == "ending" else b.kind
        if kind == "glue" and out and out[-1][0] == "glue":  # the view shows glue around </think> as one block
            out[-1] = ("glue", out[-1][1] + "\n\n" + b.text)
        else:
            out.append((kind, b.text))
    return out
