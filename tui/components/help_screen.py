"""The help modal: keys generated from the bindings of each screen, and the WHERE box's columns."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """(key, what) for every described binding (its tooltip, else its footer text); keys of one action joined."""
    rows: dict[str, list[str]] = {}
    for b in bindings:
        if not isinstance(b, Binding) or not b.description:
            continue
        keys = b.key_display or ", ".join(_pretty(k) for k in b.key.split(","))
        rows.setdefault(b.tooltip or b.description, []).append(keys)
    return [(" / ".join(keys), what) for what, keys in rows.items()]


def _pretty(key: str) -> str:
    names = {
        "question_mark": "?",
        "slash": "/",
        "right_square_bracket": "]",
        "left_square_bracket": "[",
        "less_than_sign": "<",
        "greater_than_sign": ">",
        "escape": "esc",
    }
    return names.get(key.strip(), key.strip())


#: what the format codes mean (C: a correct sample, I: an incorrect one, *: any number of samples before)
FORMAT_CODES: list[tuple[str, str]] = [
    ("0C", "one correct sample, nothing before it"),
    ("*C", "samples (right or wrong) each with a reflection, ending on a correct one"),
    ("*C_full", "every prefix of a *C draw: one trace per length, all ending correct"),
    ("*C*IC", "a correct sample, incorrect ones after it, then a backtrack to the correct answer"),
    ("*CC", "a *C trace whose last two samples are correct, then a confirm"),
    ("random", "samples drawn at random; the last one's answer is final, right or wrong"),
    ("no_reflection", "as *C_full but without reflections between the samples"),
    ("star", "one correct sample, no reflection (STaR-style rejection sampling)"),
]
TERMS: list[tuple[str, str]] = [
    ("verdict_acc", "share of the trace's reflection verdicts that match the real grade (1.00: every verdict right)"),
    ("2C 1I (1 right)", "rollouts browser verdicts: 2 reflections said Correct, 1 said Incorrect, 1 matches the grade"),
    ("is_correct ✓ / ✗", "the trace's final answer is right / wrong"),
    ("label", "keep / drop, saved at once to labels.parquet; E exports the kept traces"),
]


class HelpScreen(ModalScreen[None]):
    """Sections of (title, bindings) plus the SQL columns; nothing here is written by hand twice."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]

    def __init__(self, sections: list[tuple[str, list[BindingType]]], columns: list[tuple[str, str]]):
        super().__init__()
        self.sections = sections
        self.columns = columns

    def compose(self) -> ComposeResult:
        t = Table(title="SkillFactory inspector: keys", show_header=False, expand=True)
        t.add_column("key", style="bold", no_wrap=True, ratio=1)
        t.add_column("what", ratio=4)
        for section, bindings in self.sections:
            t.add_row(Text(section, style="bold underline"), "")
            for k, what in key_rows(bindings):
                t.add_row(k, what)
        t.add_row(Text("Format codes", style="bold underline"), "C a correct sample, I an incorrect one, * any number")
        for code, what in FORMAT_CODES:
            t.add_row(code, what)
        t.add_row(Text("Columns and codes", style="bold underline"), "")
        for term, what in TERMS:
            t.add_row(term, what)
        t.add_row(Text("WHERE box columns", style="bold underline"), "SQL over the view t; e.g. n_samples >= 3")
        t.add_row("", Text(", ".join(f"{n} {typ.lower()}" for n, typ in self.columns), style="dim"))
        yield VerticalScroll(Static(t), Static("escape to close", classes="hint"), id="help")

    def action_close(self) -> None:
        self.dismiss(None)
