"""`sf inspect`: a Textual app to browse, filter, compare and curate a run's traces.

The table shows one page of a DuckDB query at a time, so a run with a million traces opens
as fast as a small one. Labels are written to RUN/labels.parquet atomically on every change.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from tui.data import COLUMNS, PAGE_SIZE, FilterError, Filters, TraceStore, parse_skills
from tui.screens import CompareScreen, HelpScreen, TraceScreen

_HEADERS = [
    ("id", "id"),
    ("format", "format"),
    ("N", "N"),
    ("correct", "correct"),
    ("retries", "retries"),
    ("verdict acc", None),
    ("length", "length"),
    ("label", "label"),
]
_CORRECT = [("correct", True), ("incorrect", False)]
_LABELS = [("keep", "keep"), ("drop", "drop"), ("unlabeled", "none")]


class InspectorApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "SkillFactory inspector"
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("enter", "open", "open", show=False),
        Binding("slash", "focus_search", "search"),
        Binding("f", "cycle_format", "format"),
        Binding("c", "cycle_correct", "correct"),
        Binding("l", "cycle_label", "label"),
        Binding("s", "sort", "sort"),
        Binding("right_square_bracket", "page(1)", "next page"),
        Binding("left_square_bracket", "page(-1)", "prev page"),
        Binding("k", "label('keep')", "keep"),
        Binding("d", "label('drop')", "drop"),
        Binding("u", "label(None)", "clear", show=False),
        Binding("m", "mark_current", "mark", show=False),
        Binding("x", "export", "export kept"),
        Binding("r", "reset", "reset", show=False),
    ]

    def __init__(self, run: str | Path):
        super().__init__()
        self.store = TraceStore(Path(run))
        self.filters = Filters()
        self.offset = 0
        self.total = 0
        self.sort: str | None = None
        self.descending = False
        self.marked: str | None = None
        self.sub_title = Path(run).name

    # ---- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Select([(f, f) for f in self.store.formats()], prompt="format", id="f-format")
            yield Select(_CORRECT, prompt="correct?", id="f-correct")
            yield Select(_LABELS, prompt="label", id="f-label")
            yield Input(placeholder="skills: backtrack !retry", id="f-skills")
            yield Input(placeholder="search text", id="f-search")
            yield Input(placeholder="SQL where: n_samples >= 3", id="f-where")
        yield Static("", id="status")
        table: DataTable = DataTable(id="traces", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in _HEADERS:
            table.add_column(label, key=key or label)
        self.reload()
        table.focus()

    # ---- data -----------------------------------------------------------------------------
    def reload(self, keep_cursor: bool = False) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        try:
            page = self.store.page(self.filters, self.offset, PAGE_SIZE, self.sort, self.descending)
        except FilterError as e:
            self.set_status(f"[b red]filter error:[/] {e}")
            return
        self.total = page.total
        table.clear()
        for r in page.rows:
            ok = r["is_correct"]
            acc = r.get("verdict_acc")
            label = r["label"] or ""
            table.add_row(
                r["trace_id"],
                r["format"],
                str(r["n_samples"]),
                Text("✓", style="#a3be8c") if ok else Text("✗", style="#bf616a") if ok is not None else "?",
                str(r["n_retries"] if r["n_retries"] is not None else ""),
                "" if acc is None else f"{acc:.2f}",
                str(r["length"]),
                Text(label, style="#a3be8c" if label == "keep" else "#bf616a"),
                key=r["trace_id"],
            )
        if keep_cursor and page.rows:
            table.move_cursor(row=min(row, len(page.rows) - 1))
        self.update_status()

    def update_status(self) -> None:
        last = min(self.offset + PAGE_SIZE, self.total)
        sort = f"  sort {self.sort}{' desc' if self.descending else ''}" if self.sort else ""
        kept = sum(1 for v in self.store.labels.values() if v[0] == "keep")
        dropped = sum(1 for v in self.store.labels.values() if v[0] == "drop")
        mark = f"  marked {self.marked}" if self.marked else ""
        self.set_status(
            f"[b]{self.total:,}[/] matching  rows {self.offset + 1 if self.total else 0}-{last}{sort}"
            f"  keep {kept} / drop {dropped}{mark}"
        )

    def set_status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def current_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def apply(self, **kw) -> None:
        self.filters = self.filters.with_(**kw)
        self.offset = 0
        self.reload()

    # ---- filter widgets -------------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        key = {"f-format": "format", "f-correct": "correct", "f-label": "label"}.get(event.select.id or "")
        if key:
            self.apply(**{key: value})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "f-skills":
            self.apply(skills=parse_skills(event.value))
        elif event.input.id == "f-search":
            self.apply(search=event.value.strip())
        elif event.input.id == "f-where":
            self.apply(where=event.value.strip())
        else:
            return
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_trace(event.row_key.value)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(event.column_key.value)

    # ---- actions --------------------------------------------------------------------------
    def open_trace(self, trace_id: str | None) -> None:
        if trace_id:
            self.push_screen(TraceScreen(self.store, trace_id))

    def action_open(self) -> None:
        self.open_trace(self.current_id())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_focus_search(self) -> None:
        self.query_one("#f-search", Input).focus()

    def _cycle(self, select_id: str, options: list) -> None:
        sel = self.query_one(select_id, Select)
        values = [v for _, v in options]
        cur = None if sel.value is Select.NULL else sel.value
        nxt = (
            values[0]
            if cur is None
            else (values[values.index(cur) + 1] if values.index(cur) + 1 < len(values) else None)
        )
        if nxt is None:
            sel.clear()
        else:
            sel.value = nxt

    def action_cycle_format(self) -> None:
        self._cycle("#f-format", [(f, f) for f in self.store.formats()])

    def action_cycle_correct(self) -> None:
        self._cycle("#f-correct", _CORRECT)

    def action_cycle_label(self) -> None:
        self._cycle("#f-label", _LABELS)

    def _sort_by(self, key: str | None) -> None:
        if key not in COLUMNS:
            return
        if self.sort == key:
            self.descending = not self.descending
        else:
            self.sort, self.descending = key, False
        self.offset = 0
        self.reload()

    def action_sort(self) -> None:
        """Cycle: a column ascending, the same column descending, the next column ascending."""
        keys = list(COLUMNS)
        if self.sort is None:
            self.sort, self.descending = keys[0], False
        elif not self.descending:
            self.descending = True
        else:
            self.sort, self.descending = keys[(keys.index(self.sort) + 1) % len(keys)], False
        self.offset = 0
        self.reload()

    def action_page(self, step: int) -> None:
        new = self.offset + step * PAGE_SIZE
        if 0 <= new < max(self.total, 1):
            self.offset = new
            self.reload()

    def set_label(self, trace_id: str, label: str | None) -> None:
        self.store.set_label(trace_id, label)
        self.notify(f"{trace_id}: {label or 'label cleared'}")
        self.reload(keep_cursor=True)

    def action_label(self, label: str | None) -> None:
        tid = self.current_id()
        if tid:
            self.set_label(tid, label)
            table = self.query_one(DataTable)
            table.move_cursor(row=min(table.cursor_row + 1, table.row_count - 1))

    def mark(self, trace_id: str) -> None:
        self.marked = trace_id
        self.notify(f"marked {trace_id} for compare")
        self.update_status()

    def action_mark_current(self) -> None:
        tid = self.current_id()
        if tid:
            self.mark(tid)

    def compare(self, trace_id: str) -> None:
        other = self.marked if self.marked and self.marked != trace_id else None
        self.push_screen(CompareScreen(self.store, trace_id, other))

    def action_export(self) -> None:
        try:
            path, n = self.store.export_kept()
        except ValueError as e:
            self.notify(str(e), severity="warning")
            return
        self.notify(f"exported {n} kept traces to {path}")

    def action_reset(self) -> None:
        for sid in ("#f-format", "#f-correct", "#f-label"):
            self.query_one(sid, Select).clear()
        for iid in ("#f-skills", "#f-search", "#f-where"):
            self.query_one(iid, Input).value = ""
        self.filters = Filters()
        self.sort = None
        self.offset = 0
        self.reload()

    # ---- command palette ------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Export kept traces", "Write keep-labelled traces to RUN/exports/kept.parquet", self.action_export
        )
        yield SystemCommand("Reset filters", "Clear every filter and the sort", self.action_reset)
        yield SystemCommand(
            "Only correct traces", "Filter to traces whose final answer is correct", lambda: self.apply(correct=True)
        )
        yield SystemCommand(
            "Traces with a backtrack", "Skill filter: backtrack present", lambda: self.apply(skills=("backtrack",))
        )
        yield SystemCommand("Unlabeled traces", "Label filter: no keep/drop yet", lambda: self.apply(label="none"))
        yield SystemCommand(
            "Compare with marked",
            "Open the current trace next to the marked one (or an eval output)",
            lambda: self.compare(self.current_id()) if self.current_id() else None,
        )
        yield SystemCommand("Help: keys", "Show every key binding", self.action_help)

    def on_unmount(self) -> None:
        self.store.close()
