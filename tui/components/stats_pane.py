"""The statistics pane: what the current selection teaches, recomputed (in DuckDB) on every filter."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.data import Stats
from tui.render import PALETTE

_BAR = 18


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def stats_renderable(s: Stats) -> RenderableType:
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True, min_width=14)
    t.add_column(justify="right", no_wrap=True, min_width=7)
    t.add_column(no_wrap=True, overflow="ellipsis")
    t.add_row(Text("selection", style="bold"), f"{s.total:,}", "traces")
    t.add_row("correct", _pct(s.correct_rate), "final answer right")
    t.add_row("verdict acc", _pct(s.verdict_acc) if s.has_skills_table else "n/a", "verdicts = real grade")
    t.add_row(*(Text("labels", style="bold"), "", ""))
    for k, n in s.labels.items():
        t.add_row(f"  {k}", f"{n:,}", "")
    t.add_row(Text("formats", style="bold"), "", "")
    for fmt, n in s.formats:
        t.add_row(Text(f"  {fmt}"), f"{n:,}", _pct(n / s.total if s.total else None))
    t.add_row(Text("skills", style="bold"), "total", "traces with")
    for name, got in s.skills.items():
        t.add_row(f"  {name}", *(("n/a", "n/a") if got is None else (f"{got[0]:,}", f"{got[1]:,}")))
    t.add_row(Text("length (chars)", style="bold"), "", "")
    top = max((n for _, _, n in s.length_hist), default=0)
    for lo, hi, n in s.length_hist:
        bar = "█" * round(_BAR * n / top) if top else ""
        t.add_row(f"  {lo}-{hi}", f"{n:,}", Text(bar, style=PALETTE["sf-sample"]))
    if s.skills_note:  # its own wrapped line: a reason cut off at the column edge is no reason
        return Group(t, Text(s.skills_note, style="dim"))
    return t


class StatsPane(VerticalScroll):
    """Hidden until toggled (class `-stats` on its container); the app updates it while it is shown.

    A scrolling container (the statistics are taller than an 80x24 terminal): focusable, so at 80
    columns (where it replaces the table) its own keys scroll and close it again."""

    can_focus = True
    BINDINGS = [
        Binding("t", "app.toggle_stats", "hide stats", tooltip="hide the statistics pane"),
        Binding("escape", "app.toggle_stats", "back", show=False),
        Binding("j", "scroll_down", "scroll down", show=False),
        Binding("k", "scroll_up", "scroll up", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="stats-body")

    @property
    def content(self) -> object:
        """What the pane shows (a Rich table)."""
        return self.query_one("#stats-body", Static).content

    def show_stats(self, s: Stats) -> None:
        self.query_one("#stats-body", Static).update(stats_renderable(s))
