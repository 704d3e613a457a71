"""The trace table. Its keys live here, so they act only while the table is on screen and focused."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class TraceTable(DataTable):
    BINDINGS = [
        Binding("enter", "app.open", "open trace", show=False),
        Binding("slash", "app.focus('f-search')", "search"),
        Binding("w", "app.focus('f-where')", "SQL where", show=False),
        Binding("f", "app.cycle_format", "format", show=False),
        Binding("c", "app.cycle_correct", "correct", show=False),
        Binding("l", "app.cycle_label", "label", show=False),
        Binding("s", "app.choose_sort", "sort"),
        Binding("S", "app.reverse_sort", "reverse sort", show=False),
        Binding("right_square_bracket", "app.page(1)", "next page", show=False),
        Binding("left_square_bracket", "app.page(-1)", "prev page", show=False),
        Binding("less_than_sign", "app.edge_page(0)", "first page", show=False),
        Binding("greater_than_sign", "app.edge_page(1)", "last page", show=False),
        Binding("k", "app.label('keep')", "keep"),
        Binding("d", "app.label('drop')", "drop"),
        Binding("u", "app.label(None)", "clear label", show=False),
        Binding("m", "app.mark_current", "mark for compare", show=False),
        Binding("v", "app.compare_current", "compare with marked", show=False),
        Binding("Q", "app.same_question", "this question's traces", show=False),
        Binding("o", "app.rollouts", "rollouts", show=False),
        Binding("t", "app.toggle_stats", "stats"),
        Binding("x", "app.export", "export kept", show=False),
        Binding("r", "app.reset", "reset filters", show=False),
    ]
