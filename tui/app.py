"""`sf inspect`: a Textual app to browse, filter, compare and curate a run's traces.

The table shows one page of a DuckDB query at a time, so a run with a million traces opens
as fast as a small one. The app is a thin view over `tui.data.TraceStore`: screens post typed
messages (`tui.messages`), the app owns the listing (filters, sort, page, cursor) and the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Select, Static

from tui import messages as msg
from tui.components import (
    ColumnSuggester,
    CompareScreen,
    HelpScreen,
    RolloutsScreen,
    SortScreen,
    StatsPane,
    TraceScreen,
    TraceTable,
)
from tui.data import COLUMNS, PAGE_SIZE, Filters, LabelsError, TraceStore, parse_skills, visible
from tui.query_worker import QueryResult, QueryWorker
from tui.render import PALETTE, ok_text
from tui.search_index import SearchIndex, SearchIndexError
from tui.source import Source

_CORRECT = [("correct", True), ("incorrect", False)]
_LABELS = [("keep", "keep"), ("drop", "drop"), ("unlabeled", "none")]
_NARROW = 120  # columns below which the layout stacks (80x24 terminals)
#: runs with at least this many traces get a search index (built once, in the background); below it
#: a scan of the Parquet parts already answers in well under a second
INDEX_MIN_TRACES = 50_000
_INDEX_DELAY_S = 1.0


class InspectorApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "SkillFactory inspector"
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("escape", "leave_input", "leave a text box; cancel a running query", show=False),
    ]
    #: a query answered within this many seconds is shown at once; a slower one arrives later (Esc cancels)
    QUERY_WAIT_S = 2.0

    def __init__(self, source: str | Path | Source, use_index: bool = True, index_min_traces: int = INDEX_MIN_TRACES):
        super().__init__()
        self.source = source if isinstance(source, Source) else Source(Path(source))
        self.store = TraceStore(self.source.run, self.source.traces_files, self.source.labels_path, use_index)
        self.queries = QueryWorker(self.store)
        self.index_min_traces = index_min_traces
        self.indexing = False
        self.filters = Filters()
        self.offset = 0
        self.total = 0
        self.sort: str | None = None
        self.descending = False
        self.marked: str | None = None
        self.sub_title = self.source.title

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(PALETTE)

    # ---- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Select([(Text(visible(f)), f) for f in self.store.formats()], prompt="format", id="f-format")
            yield Select(_CORRECT, prompt="correct?", id="f-correct")
            yield Select(_LABELS, prompt="label", id="f-label")
            yield Input(placeholder="skills: backtrack !retry", id="f-skills")
            yield Input(placeholder="search text", id="f-search")
            names = [n for n, _ in self.store.columns()]
            yield Input(placeholder="SQL where: n_samples >= 3", id="f-where", suggester=ColumnSuggester(names))
        yield Static("", id="status")
        with Horizontal(id="main"):
            yield TraceTable(id="traces", cursor_type="row", zebra_stripes=True)
            yield StatsPane(id="stats")
        yield Footer()

    def on_mount(self) -> None:
        self.on_resize()
        self.reload()
        self.query_one(TraceTable).focus()
        if self.total == 0 and self.filters == Filters() and self.store.rollouts_page(limit=1).total:
            self.notify("no traces in this run yet: showing its rollouts (sf build makes traces)")
            self.action_rollouts()
        if self.store.labels_error:
            self.notify(self.store.labels_error, title="labels", severity="error", timeout=30, markup=False)
        for line in self.store.open_warnings:  # skipped parts, duplicate ids: once, naming the files
            self.notify(line, title="traces", severity="warning", timeout=20, markup=False)
        if self.store.skills_note:  # skill columns n/a or only in memory: say why once
            self.notify(self.store.skills_note, title="skills", severity="warning", timeout=15, markup=False)
        if self.store.index_warning:
            self.notify(self.store.index_warning, title="search index", severity="warning", timeout=15, markup=False)
        # after the first page is on screen: the build must not delay it
        self.set_timer(_INDEX_DELAY_S, self.maybe_build_index)

    # ---- search index (tui.search_index) ------------------------------------------------------
    def maybe_build_index(self) -> None:
        """Index a big run in a worker thread; until it is ready the table keeps scanning the Parquet parts."""
        state = self.store.index_state()
        if self.indexing or state not in ("missing", "stale") or self.store.count() < self.index_min_traces:
            return
        self.indexing = True
        self.update_status()
        self.run_worker(self._build_index, thread=True, exclusive=True, group="index", exit_on_error=False)

    def _build_index(self) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            idx = self.store.build_index(should_stop=lambda: worker.is_cancelled, threads=1)  # a core for the UI
        except (SearchIndexError, OSError) as e:
            if not worker.is_cancelled:  # quitting mid-build: nothing to say
                self.call_from_thread(self._index_failed, str(e))
            return
        self.call_from_thread(self._index_ready, idx)

    def _index_ready(self, idx: SearchIndex) -> None:
        self.store.attach_index(idx)
        self.indexing = False
        self.update_status()
        self.notify(f"search index ready ({idx.rows:,} traces): search, sort and filters now use it")

    def _index_failed(self, reason: str) -> None:
        self.indexing = False
        self.update_status()
        self.notify(
            f"search index not built ({reason}); search and sort scan the traces",
            title="search index",
            severity="warning",
            markup=False,
        )

    def _save_label(self, trace_id: str, label: str | None, note: str | None = None) -> bool:
        """Save one label; an unreadable labels file is shown on screen and left untouched."""
        try:
            self.store.set_label(trace_id, label, note)
        except LabelsError as e:
            self.notify(str(e), title="labels", severity="error", timeout=30, markup=False)
            return False
        return True

    def on_resize(self, event: object = None) -> None:
        self.set_class(self.size.width < _NARROW, "-narrow")

    # ---- data -----------------------------------------------------------------------------
    def _headers(self, table: TraceTable) -> None:
        table.clear(columns=True)
        for c in COLUMNS:
            arrow = (" ▼" if self.descending else " ▲") if c == self.sort else ""
            table.add_column(c + arrow, key=c)

    def _query(self, job: Callable[[TraceStore], object], done: Callable[[QueryResult], None]) -> None:
        """Run a store query on the query worker (its own cursor); a quick one is shown at once, a slow one
        when it ends, with the status saying Esc cancels it meanwhile (the app keeps handling keys)."""
        fut = self.queries.submit(job)
        try:
            res = fut.result(timeout=self.QUERY_WAIT_S)
        except FutureTimeout:
            self.set_status(Text.assemble(("querying... ", "bold"), "esc cancels"))

            def later(f: Future) -> None:
                try:
                    if threading.get_ident() == self._thread_id:
                        self.call_later(done, f.result())
                    else:
                        self.call_from_thread(done, f.result())
                except RuntimeError:  # the app has ended meanwhile
                    pass

            fut.add_done_callback(later)
            return
        done(res)

    def reload(self, keep_cursor: bool = False) -> None:
        row = self.query_one(TraceTable).cursor_row
        f, offset, sort, desc = self.filters, self.offset, self.sort, self.descending
        with_stats = self.query_one("#main").has_class("-stats")

        def job(st: TraceStore) -> tuple:
            return st.page(f, offset, PAGE_SIZE, sort, desc), (st.stats(f) if with_stats else None)

        self._query(job, lambda res: self._show_page(res, keep_cursor, row))

    def _show_page(self, res: QueryResult, keep_cursor: bool, row: int) -> None:
        """A page (and the statistics) from the query worker; an error is one status line, never a traceback."""
        if res.generation != self.queries.generation:
            return  # a newer query has replaced this one
        table = self.query_one(TraceTable)
        if res.cancelled:
            self.set_status(
                Text.assemble(("query cancelled", "bold yellow"), ": the table still shows the last result")
            )
            return
        if res.error is not None:
            table.clear()  # stale rows would look like the answer to the new filter
            self.total = 0
            self.set_status(Text.assemble(("filter error: ", "bold red"), res.error))
            return
        page, stats = res.value
        self.total = page.total
        self._headers(table)
        for r in page.rows:
            acc = r.get("verdict_acc")
            label = r["label"] or ""
            # Text cells: the table neither parses them as markup (a question's "[b]" stays text) nor pays for it
            table.add_row(
                Text(label, style=PALETTE["sf-correct" if label == "keep" else "sf-incorrect"]),
                Text(r["trace_id"]),
                Text(r["format"]),
                Text(str(r["n_samples"])),
                ok_text(r["is_correct"]),
                Text(str(r["n_retries"] if r["n_retries"] is not None else "")),
                Text("n/a" if self.store.skills_missing else "" if acc is None else f"{acc:.2f}"),
                Text(str(r["length"])),
                Text(str(r["final_answer"] or "")[:30]),
                Text(str(r["question"] or "")[:60]),
                key=r["trace_id"],
            )
        if keep_cursor and page.rows:
            table.move_cursor(row=min(row, len(page.rows) - 1))
        self.update_status()
        if stats is not None and self.query_one("#main").has_class("-stats"):
            self.query_one(StatsPane).show_stats(stats)

    def update_status(self) -> None:
        last = min(self.offset + PAGE_SIZE, self.total)
        pages = max(1, -(-self.total // PAGE_SIZE))
        kept = sum(1 for v in self.store.labels.values() if v[0] == "keep")
        dropped = sum(1 for v in self.store.labels.values() if v[0] == "drop")
        extra = f"  question {self.filters.question_id}" if self.filters.question_id else ""
        extra += f"  marked {self.marked}" if self.marked else ""
        extra += "  indexing for fast search..." if self.indexing else ""
        if self.source.name:  # not a plain run directory: say where the labels go
            extra += f"  labels: {self.store.labels_file()}"
        status = Text.assemble(
            (self.source.title, "bold"),
            "  ",
            (f"{self.total:,}", "bold"),
            f" matching  rows {self.offset + 1 if self.total else 0}-{last} (page {self.offset // PAGE_SIZE + 1}/{pages})",
            f"  keep {kept} / drop {dropped}{extra}",
        )
        self.set_status(status)

    def set_status(self, text: Text | str) -> None:
        self.query_one("#status", Static).update(text)

    def current_id(self) -> str | None:
        table = self.query_one(TraceTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def position(self) -> str:
        return f"{self.offset + self.query_one(TraceTable).cursor_row + 1}/{self.total:,}"

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
        field = {"f-skills": "skills", "f-search": "search", "f-where": "where"}.get(event.input.id or "")
        if field is None:
            return
        value = parse_skills(event.value) if field == "skills" else event.value.strip()
        self.apply(**{field: value})
        if not str(self.query_one("#status", Static).render()).startswith("filter error"):
            self.query_one(TraceTable).focus()

    def on_data_table_row_selected(self, event: TraceTable.RowSelected) -> None:
        if event.data_table.id == "traces":
            self.open_trace(event.row_key.value)

    def on_data_table_header_selected(self, event: TraceTable.HeaderSelected) -> None:
        if event.data_table.id == "traces":
            self.sort_by(event.column_key.value)

    # ---- messages from the screens ----------------------------------------------------------
    async def on_step_trace(self, message: msg.StepTrace) -> None:
        await self._show_step(message.step)

    async def on_label_requested(self, message: msg.LabelRequested) -> None:
        if not self._save_label(message.trace_id, message.label):
            return
        self.notify(f"{message.trace_id}: {message.label or 'label cleared'}")
        self.reload(keep_cursor=True)
        screen = self.screen
        if not isinstance(screen, TraceScreen):
            return
        if message.advance:
            # a label filter may have removed the trace: the cursor already sits on the next one
            await self._show_step(1 if self.current_id() == message.trace_id else 0)
        else:
            screen.refresh_trace()

    def on_note_saved(self, message: msg.NoteSaved) -> None:
        label = self.store.labels.get(message.trace_id, (None, ""))[0]
        if not self._save_label(message.trace_id, label, message.note):
            return
        self.notify("note saved")
        self.reload(keep_cursor=True)
        if isinstance(self.screen, TraceScreen):
            self.screen.refresh_trace()

    def on_mark_requested(self, message: msg.MarkRequested) -> None:
        self.marked = message.trace_id
        self.notify(f"marked {message.trace_id} for compare")
        self.update_status()

    def on_compare_requested(self, message: msg.CompareRequested) -> None:
        other = self.marked if self.marked and self.marked != message.trace_id else None
        self.push_screen(CompareScreen(self.store, message.trace_id, other))

    def on_question_requested(self, message: msg.QuestionRequested) -> None:
        while isinstance(self.screen, TraceScreen):
            self.pop_screen()
        self.apply(question_id=message.question_id)
        self.notify("all traces of this question (r resets filters)")

    def on_rollouts_requested(self, message: msg.RolloutsRequested) -> None:
        self.push_screen(RolloutsScreen(self.store, message.rollout_ids, message.question_id, message.title))

    async def _show_step(self, step: int) -> None:
        """Move the table cursor by `step` (across pages) and show that trace in the trace view."""
        table = self.query_one(TraceTable)
        row = table.cursor_row + step
        if row >= table.row_count and self.offset + PAGE_SIZE < self.total:
            self.offset += PAGE_SIZE
            self.reload()
            row = 0
        elif row < 0 and self.offset > 0:
            self.offset -= PAGE_SIZE
            self.reload()
            row = table.row_count - 1
        if table.row_count == 0:
            self.notify("no traces left in this selection")
            self.pop_screen()
            return
        if not 0 <= row < table.row_count:
            self.notify("last trace of the selection" if step > 0 else "first trace of the selection")
            row = max(0, min(row, table.row_count - 1))
        table.move_cursor(row=row)
        screen = self.screen
        tid = self.current_id()
        if isinstance(screen, TraceScreen) and tid:
            await screen.show(tid, self.position())

    # ---- actions --------------------------------------------------------------------------
    def open_trace(self, trace_id: str | None) -> None:
        if trace_id:
            self.push_screen(TraceScreen(self.store, trace_id, self.filters.search, self.position()))

    def action_open(self) -> None:
        self.open_trace(self.current_id())

    def action_help(self) -> None:
        sections = [
            ("Table", TraceTable.BINDINGS),
            ("Trace view", TraceScreen.BINDINGS),
            ("Statistics pane", StatsPane.BINDINGS),
            ("Rollouts browser", RolloutsScreen.BINDINGS),
            ("Compare", CompareScreen.BINDINGS),
            ("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "command_palette", "command palette")]),
        ]
        self.push_screen(HelpScreen(sections, self.store.columns()))

    def action_focus(self, widget_id: str) -> None:
        self.query_one(f"#{widget_id}", Input).focus()

    def action_leave_input(self) -> None:
        """Esc cancels a running query; in a text box it gives the keys back to the table."""
        if self.queries.cancel():
            self.notify("query cancelled")
            return
        if isinstance(self.focused, Input) and self.screen is self.screen_stack[0]:
            self.query_one(TraceTable).focus()

    def _cycle(self, select_id: str, options: list) -> None:
        sel = self.query_one(select_id, Select)
        values = [v for _, v in options]
        cur = None if sel.value is Select.NULL else sel.value
        i = values.index(cur) + 1 if cur in values else 0
        if i >= len(values) or (cur is None and i):
            sel.clear()
        else:
            sel.value = values[i]

    def action_cycle_format(self) -> None:
        self._cycle("#f-format", [(f, f) for f in self.store.formats()])

    def action_cycle_correct(self) -> None:
        self._cycle("#f-correct", _CORRECT)

    def action_cycle_label(self) -> None:
        self._cycle("#f-label", _LABELS)

    def sort_by(self, key: str | None) -> None:
        """Sort by a column; the same column again flips the direction."""
        if key not in COLUMNS:
            return
        if self.sort == key:
            self.descending = not self.descending
        else:
            self.sort, self.descending = key, False
        self.offset = 0
        self.reload()

    def action_choose_sort(self) -> None:
        self.push_screen(SortScreen(COLUMNS, self.sort, self.descending), self.sort_by)

    def action_reverse_sort(self) -> None:
        if self.sort:
            self.sort_by(self.sort)

    def action_page(self, step: int) -> None:
        new = self.offset + step * PAGE_SIZE
        if 0 <= new < max(self.total, 1):
            self.offset = new
            self.reload()

    def action_edge_page(self, last: int) -> None:
        self.offset = ((max(self.total, 1) - 1) // PAGE_SIZE) * PAGE_SIZE if last else 0
        self.reload()

    def action_label(self, label: str | None) -> None:
        tid = self.current_id()
        if tid:
            row = self.query_one(TraceTable).cursor_row
            if not self._save_label(tid, label):
                return
            self.notify(f"{tid}: {label or 'label cleared'}")
            self.reload(keep_cursor=True)
            table = self.query_one(TraceTable)
            if self.current_id() == tid:
                table.move_cursor(row=min(row + 1, table.row_count - 1))

    def action_mark_current(self) -> None:
        if tid := self.current_id():
            self.post_message(msg.MarkRequested(tid))

    def action_compare_current(self) -> None:
        if tid := self.current_id():
            self.post_message(msg.CompareRequested(tid))

    def action_same_question(self) -> None:
        if tid := self.current_id():
            self.post_message(msg.QuestionRequested(self.store.trace(tid)["question_id"]))

    def action_rollouts(self) -> None:
        self.post_message(msg.RolloutsRequested(None, None, "all rollouts of the run"))

    def action_toggle_stats(self) -> None:
        main = self.query_one("#main")
        main.toggle_class("-stats")
        pane = self.query_one(StatsPane)
        if main.has_class("-stats"):
            f = self.filters

            def shown(res: QueryResult) -> None:
                if res.ok:
                    pane.show_stats(res.value)
                elif res.error:
                    self.set_status(Text.assemble(("statistics: ", "bold red"), res.error))

            self._query(lambda st: st.stats(f), shown)
            if self.has_class("-narrow"):  # the pane replaces the table: give it the keys
                pane.focus()
        else:
            self.query_one(TraceTable).focus()

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
            "Export kept traces", f"Write keep-labelled traces to {self.store.export_path()}", self.action_export
        )
        yield SystemCommand("Reset filters", "Clear every filter and the sort", self.action_reset)
        yield SystemCommand("Statistics", "Show or hide the statistics of the current filter", self.action_toggle_stats)
        yield SystemCommand("Rollouts browser", "Every rollout with its grade and reflections", self.action_rollouts)
        yield SystemCommand(
            "Only correct traces", "Filter to traces whose final answer is correct", lambda: self.apply(correct=True)
        )
        yield SystemCommand(
            "Traces with a backtrack", "Skill filter: backtrack present", lambda: self.apply(skills=("backtrack",))
        )
        yield SystemCommand("Unlabeled traces", "Label filter: no keep/drop yet", lambda: self.apply(label="none"))
        yield SystemCommand(
            "Compare with marked", "Diff the current trace against the marked one", self.action_compare_current
        )
        yield SystemCommand("Help: keys", "Show every key binding", self.action_help)

    def on_unmount(self) -> None:
        self.queries.close()
        self.store.close()
