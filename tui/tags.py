"""Every piece of trace grammar the inspector uses, in one place (to swap for `sfdata.grammar`).

The inspector needs three things from the grammar: tag segments for colouring, top-level blocks
for the trace view, and the skill cues as SQL-usable regexes. Keep them here, nowhere else in tui.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"(</?(?:think|sample|reflect|verdict|answer)>)", re.I)
_BLOCK = re.compile(r"<(sample|reflect|answer)>(.*?)</\1>", re.S | re.I)


def cue_patterns() -> dict[str, str]:
    """Skill cue name (wait, verify, ...) -> regex, the same ones `sf skills` counts."""
    from sfdata.skills import CUES

    return {name.removeprefix("cue_"): rx for name, rx in CUES.items()}


def segments(trace: str) -> list[tuple[str, str]]:
    """Split a trace into (kind, text): kind is sample | reflect | verdict | answer | glue | tag."""
    out: list[tuple[str, str]] = []
    stack: list[str] = []
    for piece in _TAG.split(trace or ""):
        if not piece:
            continue
        if _TAG.fullmatch(piece):
            name = piece.strip("</>").lower()
            if piece.startswith("</"):
                if name in stack:
                    while stack and stack.pop() != name:
                        pass
            else:
                stack.append(name)
            out.append(("tag", piece))
            continue
        inner = next((s for s in reversed(stack) if s in ("verdict", "answer", "reflect", "sample")), None)
        out.append((inner or "glue", piece))
    return out


def split_samples(trace: str) -> list[tuple[str, str]]:
    """Top-level blocks for the trace view: ("sample", text) | ("reflect", text) | ("glue", text) | ("answer", text)."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    for m in _BLOCK.finditer(trace or ""):
        gap = trace[pos : m.start()].replace("<think>", "").replace("</think>", "").strip()
        if gap:
            blocks.append(("glue", gap))
        blocks.append((m.group(1).lower(), m.group(2).strip("\n")))
        pos = m.end()
    tail = (trace or "")[pos:].replace("</think>", "").strip()
    if tail:
        blocks.append(("glue", tail))
    return blocks
