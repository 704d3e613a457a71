"""The trace table. Its keys live here, so they act only while the table is on screen and focused."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class TraceTable(DataTable):
    BINDINGS = [
        Binding("enter", "app.open", "open trace", show=False, tooltip="open the trace under the cursor"),
        Binding(
            "slash",
            "app.focus('f-search')",
            "search",
            tooltip="focus the full-text search box (esc gives the keys back)",
        ),
        Binding(
            "w",
            "app.focus('f-where')",
            "SQL where",
            show=False,
            tooltip="focus the SQL WHERE box (right arrow accepts a column completion)",
        ),
        Binding("f", "app.cycle_format", "format", show=False, tooltip="cycle the format filter (also a drop-down)"),
        Binding("c", "app.cycle_correct", "correct", show=False, tooltip="cycle correct / incorrect / any"),
        Binding(
            "l", "app.cycle_label", "label", show=False, tooltip="cycle the label filter keep / drop / unlabeled / any"
        ),
        Binding(
            "s", "app.choose_sort", "sort", tooltip="choose the sort column (or click a header; again flips the order)"
        ),
        Binding("S", "app.reverse_sort", "reverse sort", show=False, tooltip="flip the sort order"),
        Binding("right_square_bracket", "app.page(1)", "next page", show=False),
        Binding("left_square_bracket", "app.page(-1)", "prev page", show=False),
        Binding("less_than_sign", "app.edge_page(0)", "first page", show=False),
        Binding("greater_than_sign", "app.edge_page(1)", "last page", show=False),
        Binding("k", "app.label('keep')", "keep", tooltip="label keep, move down"),
        Binding("d", "app.label('drop')", "drop", tooltip="label drop, move down"),
        Binding("u", "app.label(None)", "clear label", show=False),
        Binding("m", "app.mark_current", "mark for compare", show=False),
        Binding("v", "app.compare_current", "compare with marked", show=False),
        Binding(
            "Q",
            "app.same_question",
            "this question's traces",
            show=False,
            tooltip="all traces of the question under the cursor",
        ),
        Binding("o", "app.rollouts", "rollouts", tooltip="browse every rollout with its grade and reflections"),
        Binding("t", "app.toggle_stats", "stats", tooltip="show / hide statistics of the current filter"),
        Binding("x", "app.export", "export kept", show=False, tooltip="export kept traces (RUN/exports/kept.parquet)"),
        Binding("r", "app.reset", "reset filters", show=False, tooltip="clear every filter and the sort"),
    ]
