"""The trace table. Its keys live here, so they act only while the table is on screen and focused.

j/k move as in vim, lazygit and k9s; labels are y (keep: yes) and x (drop: crossed out). Columns have fixed
widths (a sort changes header arrows, never the layout); `question` takes the width that is left, and
left/right scroll a whole column at a time.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


class TraceTable(DataTable):
    BINDINGS = [
        Binding("enter", "app.open", "open trace", show=False, tooltip="open the trace under the cursor"),
        Binding("j", "cursor_down", "down", show=False, tooltip="move down (also the arrow keys)"),
        Binding("k", "cursor_up", "up", show=False, tooltip="move up"),
        Binding("right", "scroll_columns(1)", "next column", show=False, tooltip="scroll right by one column"),
        Binding("left", "scroll_columns(-1)", "prev column", show=False, tooltip="scroll left by one column"),
        Binding(
            "slash",
            "app.focus('f-search')",
            "search",
            tooltip="focus the full-text search box (enter applies; esc gives the keys back)",
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
        Binding("less_than_sign", "app.edge_page(0)", "first trace", show=False),
        Binding("greater_than_sign", "app.edge_page(1)", "last trace", show=False),
        Binding("y", "app.label('keep')", "keep", tooltip="label keep (yes), move down"),
        Binding("x", "app.label('drop')", "drop", tooltip="label drop (crossed out), move down"),
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
        Binding("E", "app.export", "export kept", show=False, tooltip="export kept traces (RUN/exports/kept.parquet)"),
        Binding("r", "app.reset", "reset filters", show=False, tooltip="clear every filter and the sort"),
    ]

    QUESTION_MIN = 40

    def _edges(self) -> list[tuple[int, int]]:
        """(x, width) of every column on the virtual canvas (cell padding included)."""
        out, x = [], 0
        for col in self.ordered_columns:
            w = col.get_render_width(self)
            out.append((x, w))
            x += w
        return out

    def show_column(self, key: str) -> None:
        """Scroll horizontally so a column (the sorted one) is on screen."""
        keys = [c.key.value for c in self.ordered_columns]
        if key not in keys:
            return
        x, w = self._edges()[keys.index(key)]
        view = self.scrollable_content_region.width
        if x < self.scroll_x or x + w > self.scroll_x + view:
            self.scroll_to(x=max(0, min(x, x + w - view)) if w <= view else x, animate=False, immediate=True)

    def action_scroll_columns(self, step: int) -> None:
        """Scroll by whole columns (a row cursor would otherwise move the view one character per key)."""
        starts = [x for x, _ in self._edges()]
        if step > 0:
            nxt = next((x for x in starts if x > self.scroll_x), None)
            if nxt is not None and self.scroll_x < self.max_scroll_x:
                self.scroll_to(x=nxt, animate=False, immediate=True)
        else:
            prev = [x for x in starts if x < self.scroll_x]
            self.scroll_to(x=prev[-1] if prev else 0, animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        """The question column takes the width the other columns leave (never less than QUESTION_MIN)."""
        q = self.columns.get(ColumnKey("question"))
        if q is None:
            return
        others = sum(c.get_render_width(self) for c in self.ordered_columns if c is not q)
        width = max(self.QUESTION_MIN, event.size.width - others - 2 * self.cell_padding - 1)
        if q.width != width:
            q.width = width
            self._require_update_dimensions = True
            self.refresh()
