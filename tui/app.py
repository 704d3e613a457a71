"""`sf inspect`: a Textual app to browse, filter, compare and curate a run's traces.

The table shows one page of a DuckDB query at a time, so a run with a million traces opens
as fast as a small one. The app is a thin view over `tui.data.TraceStore`: screens post typed
messages (`tui.messages`), the app owns the listing (filters, sort, page, cursor) and the store.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Select, Static
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

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
from tui.components.compare_screen import compare_data
from tui.components.help_screen import key_rows
from tui.data import COLUMNS, PAGE_SIZE, Filters, LabelsError, TraceStore, parse_skills, visible
from tui.query_worker import QueryResult, QueryWorker
from tui.render import PALETTE, ok_text
from tui.search_index import SearchIndex, SearchIndexError
from tui.source import Source
from tui.trace_data import Prefetcher, TraceData, load_trace

_CORRECT = [("correct", True), ("incorrect", False)]
_LABELS = [("keep", "keep"), ("drop", "drop"), ("unlabeled", "none")]
_NARROW = 120  # columns below which the layout stacks (80x24 terminals)
#: runs with at least this many traces get a search index (built once, in the background); below it
#: a scan of the Parquet parts already answers in well under a second
INDEX_MIN_TRACES = 50_000
_INDEX_DELAY_S = 1.0
_LABELS_POLL_S = 2.0  # how often the labels file is checked for another inspector's labels
#: keys a focused text box handles itself (besides printable characters): these are forwarded to it
_BOX_KEYS = frozenset(k.strip() for b in Input.BINDINGS if isinstance(b, Binding) for k in b.key.split(","))
#: fixed table column widths (values are cut to these); `question` takes the width that is left
_WIDTHS = {c: max(len(c) + 2, w) for c, w in (("label", 4), ("trace_id", 16), ("format", 13), ("final_answer", 24))}
_QUESTION_MIN = 40


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
        self.queries = QueryWorker(
            TraceStore(self.source.run, self.source.traces_files, self.source.labels_path, use_index)
        )
        self.prefetch = Prefetcher(self.queries.store)  # the next trace of the trace view, read ahead
        self.index_min_traces = index_min_traces
        self.indexing = False
        self.filters = Filters()
        self.offset = 0
        self.total = 0
        self.sort: str | None = None
        self.descending = False
        self.marked: str | None = None
        self.sub_title = self.source.title
        #: the trace the trace view stands on: moved by each label/step message as it is handled, ahead of
        #: the (slower) repaint, so a burst of keys labels successive traces in order
        self.view_id: str | None = None
        self._paint_pending = False
        self._first_page_shown = False  # an empty run is told apart only once a page has answered
        self._labelled = False  # labels changed since the listing was last read (it stays frozen until then)
        self._closed = False
        self._index_timer: Timer | None = None
        self._labels_timer: Timer | None = None

    @property
    def store(self) -> TraceStore:
        return self.queries.store

    @store.setter
    def store(self, store: TraceStore) -> None:
        """One store for the app, its query worker and its read-ahead (a test swaps in a slowed one)."""
        self.queries.store = store
        self.prefetch.forget()
        self.prefetch.store = store

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

    # ---- keys, in the order they were typed ---------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and await self._run_key_now(event):
            return
        await super().on_event(event)

    async def _run_key_now(self, event: events.Key) -> bool:
        """Run a command key's binding here, in the app's task, as the key arrives.

        Textual forwards a key to the focused widget's queue and runs its binding when the key bubbles
        back; keys typed meanwhile (the app busy with a page) were already forwarded to the old focus,
        so after `w` the next letters ran as table commands. Handled here, each key sees the focus and
        the listing every earlier key left. Text for a box (and the box's own keys) still goes to it.
        """
        focused = self.focused
        if focused is None or self.screen.maximized is not None:
            return False
        if isinstance(focused, Input) and event.is_printable:
            typed = self._typed_run()
            if typed:  # a paste without bracketed paste: one insert, not one per character (O(n^2) redraws)
                focused.post_message(events.Paste((event.character or "") + typed))
                return True
            return False
        if isinstance(focused, Input) and event.key in _BOX_KEYS:
            return False
        if await self._check_bindings(event.key, priority=True):
            return True
        return await self._check_bindings(event.key)

    def _typed_run(self) -> str:
        """The printable keys queued right behind this one (taken off the queue, in order), as one string."""
        out: list[str] = []
        while len(out) < 1_000_000:
            nxt = self._peek_message()  # Textual's own look-ahead (it holds the next message aside)
            if not (isinstance(nxt, events.Key) and nxt.is_printable and not nxt.is_forwarded and nxt.character):
                break
            self._pending_message = None  # consumed
            out.append(nxt.character)
        return "".join(out)

    def focus_now(self, widget: Widget) -> None:
        """Move the focus before the next key is routed (`Widget.focus` waits for a later message)."""
        self.screen.set_focus(widget)

    def on_mount(self) -> None:
        self.on_resize()
        table = self.query_one(TraceTable)
        for c in COLUMNS:
            table.add_column(c, key=c, width=_WIDTHS.get(c, len(c) + 2) if c != "question" else _QUESTION_MIN)
        self.focus_now(table)
        self.reload()  # an empty run is told apart once its first page has come (`_first_page`), not before
        if self.store.labels_error:
            self.notify(self.store.labels_error, title="labels", severity="error", timeout=30, markup=False)
        for line in self.store.open_warnings:  # skipped parts, duplicate ids: once, naming the files
            self.notify(line, title="traces", severity="warning", timeout=20, markup=False)
        if self.store.skills_note:  # skill columns n/a or only in memory: say why once
            self.notify(self.store.skills_note, title="skills", severity="warning", timeout=15, markup=False)
        if self.store.index_warning:
            self.notify(self.store.index_warning, title="search index", severity="warning", timeout=15, markup=False)
        # after the first page is on screen: the build must not delay it
        self._index_timer = self.set_timer(_INDEX_DELAY_S, self.maybe_build_index)
        self._labels_timer = self.set_interval(_LABELS_POLL_S, self._poll_labels)

    def _poll_labels(self) -> None:
        """Another inspector (or `sf`) changed the labels file: counts and cells follow it."""
        if not self._closed and self.screen is self.screen_stack[0] and self.store.refresh_labels():
            self._relabel_page()
            self.update_status()

    def standalone(self) -> str | None:
        """The file's name when it is a traces file on its own (not part of a run: no rollouts, no grades)."""
        return self.source.title if self.source.labels_path is not None else None

    def empty_message(self) -> str:
        if self.source.name:
            return "this file holds no traces"
        return "nothing in this run yet: sf generate makes rollouts, sf build makes traces from them"

    # ---- search index (tui.search_index) ------------------------------------------------------
    def maybe_build_index(self) -> None:
        """Index a big run in a worker thread; until it is ready the table keeps scanning the Parquet parts."""
        if self._closed:  # the timer fired while quitting: the store is closed
            return
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
        if self._closed:
            return
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

    def on_resize(self, event: events.Resize | None = None) -> None:
        # the event's size: `self.size` still holds the previous one while this runs
        width = event.size.width if event is not None else self.size.width
        self.set_class(width < _NARROW, "-narrow")

    # ---- data -----------------------------------------------------------------------------
    def _headers(self, table: TraceTable) -> None:
        """Sort arrows on the header labels; the columns (and their widths) stay as they are."""
        for c in COLUMNS:
            arrow = (" ▼" if self.descending else " ▲") if c == self.sort else ""
            table.columns[ColumnKey(c)].label = Text(c + arrow)
        table.refresh()

    def _row_cells(self, r: dict) -> list[Text]:
        acc = r.get("verdict_acc")
        # Text cells: the table neither parses them as markup (a question's "[b]" stays text) nor pays for it
        return [
            label_text(r["label"]),
            Text(r["trace_id"]),
            Text(r["format"]),
            Text(str(r["n_samples"])),
            ok_text(r["is_correct"]),
            Text(str(r["n_retries"] if r["n_retries"] is not None else "")),
            Text("n/a" if self.store.skills_missing else "" if acc is None else f"{acc:.2f}"),
            Text(str(r["length"])),
            Text(str(r["final_answer"] or "")),
            Text(str(r["question"] or "").replace("\n", " ")),
        ]

    def _query(
        self, job: Callable[[TraceStore], object], done: Callable[[QueryResult], None], replace: bool = True
    ) -> None:
        """Run a store query on the query worker (its own cursor); a quick one is shown at once, a slow one
        when it ends, with the status saying Esc cancels it meanwhile (the app keeps handling keys).
        `replace=False` for reads that must not cancel a page load under way (a trace, a screen's rows)."""
        fut = self.queries.submit(job, replace=replace)
        try:
            res = fut.result(timeout=self.QUERY_WAIT_S)
        except FutureTimeout:
            self.set_status(Text.assemble(("querying... ", "bold"), "esc cancels"))
            if not replace:  # a screen's read: the status goes back to the listing's when it answers
                done = partial(self._status_then, done)

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

    def _status_then(self, done: Callable[[QueryResult], None], res: QueryResult) -> None:
        if not self._closed:
            self.update_status()
            done(res)

    def reload(self, keep_cursor: bool = False, cursor_id: str | None = None) -> None:
        row = self.query_one(TraceTable).cursor_row
        self._labelled = False
        f, offset, sort, desc = self.filters, self.offset, self.sort, self.descending
        with_stats = self.query_one("#main").has_class("-stats")

        def job(st: TraceStore) -> tuple:
            return st.page(f, offset, PAGE_SIZE, sort, desc), (st.stats(f) if with_stats else None)

        self._query(job, lambda res: self._show_page(res, keep_cursor, row, cursor_id))

    def _show_page(self, res: QueryResult, keep_cursor: bool, row: int, cursor_id: str | None = None) -> None:
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
            self.set_status(Text.assemble(("filter error: ", "bold red"), filter_error_text(res.error)))
            return
        page, stats = res.value
        self.total = page.total
        self._headers(table)
        table.clear()
        for r in page.rows:
            table.add_row(*self._row_cells(r), key=r["trace_id"])
        ids = [r["trace_id"] for r in page.rows]
        if cursor_id in ids:
            table.move_cursor(row=ids.index(cursor_id))
        elif keep_cursor and page.rows:
            table.move_cursor(row=min(row, len(page.rows) - 1))
        first = not self._first_page_shown
        self._first_page_shown = True
        self.update_status()
        if stats is not None and self.query_one("#main").has_class("-stats"):
            self.query_one(StatsPane).show_stats(stats)
        if first:
            self._first_page()

    def _first_page(self) -> None:
        """A run with no traces opens on its rollouts, or says it is empty: decided on the first page's answer
        (a slow first page must not look like an empty run)."""
        if self.total or self.filters != Filters():
            return
        if self.store.rollouts_page(limit=1).total:
            self.notify("no traces in this run yet: showing its rollouts (sf build makes traces)")
            self.action_rollouts()
        else:
            self.notify(self.empty_message(), title="empty", timeout=15)

    def applied_text(self) -> Text:
        """What the listing shows, as applied (a box may hold text not yet submitted with enter)."""
        f = self.filters
        parts: list[tuple[str, str]] = []
        if f.format:
            parts.append(("format", f.format))
        if f.correct is not None:
            parts.append(("correct", "yes" if f.correct else "no"))
        if f.label:
            parts.append(("label", "unlabeled" if f.label == "none" else f.label))
        if f.skills:
            parts.append(("skills", " ".join(f.skills)))
        if f.search:
            parts.append(("search", repr(f.search)))
        if f.where.strip():
            parts.append(("where", f.where.strip()))
        if f.question_id:
            parts.append(("question", f.question_id))
        if self.sort:
            parts.append(("sort", f"{self.sort} {'▼' if self.descending else '▲'}"))
        out = Text("applied: ", style="bold")
        if not parts:
            out.append("no filter, file order", style="dim")
        for i, (k, v) in enumerate(parts):
            out.append(("  " if i else "") + k + " ")
            out.append(v, style="bold")
        return out

    def update_status(self) -> None:
        last = min(self.offset + PAGE_SIZE, self.total)
        pages = max(1, -(-self.total // PAGE_SIZE))
        if self.store.refresh_labels():  # another inspector labelled: counts follow the file on disk
            self._relabel_page()
        kept = sum(1 for v in self.store.labels.values() if v[0] == "keep")
        dropped = sum(1 for v in self.store.labels.values() if v[0] == "drop")
        extra = f"  marked {self.marked}" if self.marked else ""
        extra += "  indexing for fast search..." if self.indexing else ""
        if self.source.name:  # not a plain run directory: say where the labels go
            extra += f"  labels: {self.store.labels_file()}"
        status = Text.assemble(
            (self.source.title, "bold"),
            "  ",
            (f"{self.total:,}", "bold"),
            f" matching  rows {self.offset + 1 if self.total else 0}-{last} (page {self.offset // PAGE_SIZE + 1}/{pages})",
            f"  keep {kept} / drop {dropped}{extra}\n",
            self.applied_text(),
        )
        if self.total == 0 and self.filters == Filters() and self._first_page_shown:
            status.append("\n" + self.empty_message(), style="bold")
        self.set_status(status)
        self._mark_unapplied()

    def _mark_unapplied(self) -> None:
        """A text box whose text is not the applied filter says so (enter applies it)."""
        applied = {
            "f-skills": " ".join(self.filters.skills),
            "f-search": self.filters.search,
            "f-where": self.filters.where.strip(),
        }
        for wid, value in applied.items():
            box = self.query_one(f"#{wid}", Input)
            typed = " ".join(parse_skills(box.value)) if wid == "f-skills" else box.value.strip()
            box.set_class(typed != value, "-unapplied")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("f-skills", "f-search", "f-where"):
            self._mark_unapplied()

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
        self._sync_filter_widgets()
        self.reload()

    def _sync_filter_widgets(self) -> None:
        """The drop-downs and boxes show the applied filters (a palette command or Q set them too)."""
        f = self.filters
        with self.prevent(Select.Changed):
            for sid, value in (("#f-format", f.format), ("#f-correct", f.correct), ("#f-label", f.label)):
                sel = self.query_one(sid, Select)
                if value is None:
                    sel.clear()
                else:
                    sel.value = value
        for iid, value in (("#f-skills", " ".join(f.skills)), ("#f-search", f.search), ("#f-where", f.where)):
            box = self.query_one(iid, Input)
            if box.value.strip() != value.strip() and not box.has_focus:
                with self.prevent(Input.Changed):
                    box.value = value

    # ---- filter widgets -------------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        key = {"f-format": "format", "f-correct": "correct", "f-label": "label"}.get(event.select.id or "")
        if key and getattr(self.filters, key) != value:
            self.apply(**{key: value})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        field = {"f-skills": "skills", "f-search": "search", "f-where": "where"}.get(event.input.id or "")
        if field is None:
            return
        value = parse_skills(event.value) if field == "skills" else event.value.strip()
        self.apply(**{field: value})
        if not str(self.query_one("#status", Static).render()).startswith("filter error"):
            self.focus_now(self.query_one(TraceTable))

    def on_data_table_row_selected(self, event: TraceTable.RowSelected) -> None:
        if event.data_table.id == "traces":
            self.open_trace(event.row_key.value)

    def on_data_table_header_selected(self, event: TraceTable.HeaderSelected) -> None:
        if event.data_table.id == "traces":
            self.sort_by(event.column_key.value)

    # ---- labels: written at once, shown in place, the trace view repainted after ------------------
    def _show_label(self, trace_id: str) -> None:
        """The label cell of one row, in place (no page reload; a label filter's listing stays as it is)."""
        table = self.query_one(TraceTable)
        try:
            table.update_cell(trace_id, "label", label_text(self.store.labels.get(trace_id, (None, ""))[0]))
        except (KeyError, CellDoesNotExist):
            pass  # not on this page
        self._labelled = True
        self.update_status()

    def _label_of(self, trace_id: str | None) -> str | None:
        """A trace's label, None when unlabelled (a table row's key is its trace id)."""
        got = self.store.labels.get(trace_id) if trace_id is not None else None
        return got[0] if got else None

    def _relabel_page(self) -> None:
        table = self.query_one(TraceTable)
        for key in list(table.rows):
            table.update_cell(key, "label", label_text(self._label_of(key.value)))

    def _label(self, trace_id: str, label: str | None, note: str | None = None) -> bool:
        if not self._save_label(trace_id, label, note):
            return False
        self._show_label(trace_id)
        return True

    def on_label_requested(self, message: msg.LabelRequested) -> None:
        tid = message.trace_id or self.view_id
        if not tid or not self._label(tid, message.label):
            return
        if not isinstance(self.screen, TraceScreen):  # the trace view's title shows the label itself
            self.notify(f"{tid}: {message.label or 'label cleared'}", timeout=2)
        else:
            if message.advance:
                self._step_view(1)
            self._schedule_paint()

    def on_note_saved(self, message: msg.NoteSaved) -> None:
        label = self.store.labels.get(message.trace_id, (None, ""))[0]
        if not self._label(message.trace_id, label, message.note):
            return
        self.notify("note saved")
        self._schedule_paint()

    def on_step_trace(self, message: msg.StepTrace) -> None:
        self._step_view(message.step)
        self._schedule_paint()

    def _next_offset(self) -> int:
        """The next page's offset: a label filter's listing lost the rows labelled out of it meanwhile."""
        offset = self.offset + PAGE_SIZE
        if self._labelled and self.filters.label:
            table = self.query_one(TraceTable)
            want = self.filters.label
            gone = 0
            for key in table.rows:
                lab = self._label_of(key.value)
                gone += (lab is not None) if want == "none" else (lab != want)
            offset -= gone
        return offset

    def _step_view(self, step: int) -> None:
        """Move the trace view's position by `step` through the listing, at once (pages read as needed)."""
        table = self.query_one(TraceTable)
        row = table.cursor_row
        if self.view_id is not None:
            try:
                row = table.get_row_index(self.view_id)
            except (KeyError, RowDoesNotExist):
                pass
        row += step
        if row >= table.row_count and self.offset + table.row_count < self.total:
            self.offset = self._next_offset()
            self.reload()
            row = 0
        elif row < 0 and self.offset > 0:
            self.offset = max(0, self.offset - PAGE_SIZE)
            self.reload()
            row = table.row_count - 1
        if table.row_count == 0:
            self.view_id = None
            return
        if not 0 <= row < table.row_count:
            self.notify("last trace of the selection" if step > 0 else "first trace of the selection")
            row = max(0, min(row, table.row_count - 1))
        table.move_cursor(row=row)
        self.view_id = self.current_id()

    def _schedule_paint(self) -> None:
        """Repaint the trace view once the keys already typed are handled (a burst paints once).

        Repaints are held from the label until the next trace is in place: the table cell, status, title
        and blocks change in one frame, not in four (each frame of the trace view costs tens of ms here)."""
        if not self._paint_pending:
            self._paint_pending = True
            self._begin_batch()
            self.call_later(self._paint_view)

    async def _paint_view(self) -> None:
        try:
            await self._paint_view_now()
        finally:
            self._end_batch()

    async def _paint_view_now(self) -> None:
        self._paint_pending = False
        screen = self.screen
        if not isinstance(screen, TraceScreen):
            return
        if self.view_id is None:
            self.notify("no traces left in this selection")
            self.pop_screen()
        elif screen.trace_id != self.view_id:
            vid = self.view_id
            data = self.prefetch.take(vid)
            if data is not None:  # read ahead while the user read the last one: no store round trip
                await self._show_in_view(vid, data)
            else:
                self._query(lambda st: load_trace(st, vid), lambda res: self._trace_loaded(vid, res), replace=False)
        else:
            screen.refresh_trace()

    def _trace_loaded(self, trace_id: str, res: QueryResult) -> None:
        if self._failed(f"trace {trace_id}", res):
            return
        self.call_later(self._show_in_view, trace_id, res.value)

    async def _show_in_view(self, trace_id: str, data: TraceData) -> None:
        """Paint `data` in the trace view if it still stands on that trace, then read the next one ahead."""
        screen = self.screen
        if not isinstance(screen, TraceScreen) or self.view_id != trace_id:
            return
        if screen.trace_id != trace_id:
            await screen.show(data.with_labels(self.store.labels), self.position())
        self._read_ahead()

    def _read_ahead(self) -> None:
        """Read the trace after the one on view (the next label-and-advance shows it) on its own thread."""
        table = self.query_one(TraceTable)
        try:
            row = table.get_row_index(self.view_id) if self.view_id is not None else -1
            nxt = table.coordinate_to_cell_key(Coordinate(row + 1, 0)).row_key.value if row >= 0 else None
        except (KeyError, RowDoesNotExist, CellDoesNotExist):
            nxt = None
        self.prefetch.want([nxt] if nxt else [])

    # ---- messages from the screens ----------------------------------------------------------
    def on_mark_requested(self, message: msg.MarkRequested) -> None:
        self.marked = message.trace_id
        self.notify(f"marked {message.trace_id} for compare")
        self.update_status()

    def on_compare_requested(self, message: msg.CompareRequested) -> None:
        left = message.trace_id
        other = self.marked if self.marked and self.marked != left else None

        def loaded(res: QueryResult) -> None:
            if self._failed("compare", res):
                return
            self.push_screen(CompareScreen(self.store, left, other, loaded=res.value))

        self._query(lambda st: compare_data(st, left, other), loaded, replace=False)

    def _failed(self, what: str, res: QueryResult) -> bool:
        """A read for a screen that did not answer: one line on screen (an error), nothing when cancelled."""
        if res.ok:
            return False
        if res.error:
            self.notify(f"{what}: {res.error}", title=what, severity="error", markup=False)
        return True

    def on_question_requested(self, message: msg.QuestionRequested) -> None:
        while isinstance(self.screen, TraceScreen):
            self.pop_screen()
        self.apply(question_id=message.question_id)
        self.notify("all traces of this question (r resets filters)")

    def on_rollouts_requested(self, message: msg.RolloutsRequested) -> None:
        screen = RolloutsScreen(self.store, message.rollout_ids, message.question_id, message.title, self.standalone())
        screen.runner = partial(self._query, replace=False)  # its reads go through the query worker
        self.push_screen(screen)

    # ---- actions --------------------------------------------------------------------------
    def open_trace(self, trace_id: str | None) -> None:
        if not trace_id:
            return
        table = self.query_one(TraceTable)
        try:
            table.move_cursor(row=table.get_row_index(trace_id))
        except (KeyError, RowDoesNotExist):
            pass  # a trace from elsewhere (compare): shown, and the arrows walk the listing from the cursor
        search, position = self.filters.search, self.position()

        def opened(res: QueryResult) -> None:
            if self._failed(f"trace {trace_id}", res):
                return
            self.view_id = trace_id
            screen = TraceScreen(self.store, trace_id, search, position, data=res.value)
            self.push_screen(screen, self._trace_view_closed)
            self.call_later(self._read_ahead)

        self._query(lambda st: load_trace(st, trace_id), opened, replace=False)

    def _trace_view_closed(self, _: object = None) -> None:
        """Back in the table: a listing frozen while labelling is read again, the cursor on the last trace shown."""
        if self._labelled and self.filters.label:
            self.reload(keep_cursor=True, cursor_id=self.view_id)
        self.view_id = None

    def action_open(self) -> None:
        self.open_trace(self.current_id())

    def action_help(self) -> None:
        sections = [
            ("Table", TraceTable.BINDINGS),
            ("Trace view", TraceScreen.BINDINGS),
            ("Statistics pane", StatsPane.BINDINGS),
            ("Rollouts browser", RolloutsScreen.BINDINGS),
            ("Compare", CompareScreen.BINDINGS),
            ("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "command_palette", "command palette: every action")]),
        ]
        self.push_screen(HelpScreen(sections, self.store.columns()))

    async def action_focus(self, widget_id: str) -> None:  # App.action_focus is a coroutine
        self.focus_now(self.query_one(f"#{widget_id}", Input))

    def action_leave_input(self) -> None:
        """Esc cancels a running query; in a text box it gives the keys back to the table."""
        if self.queries.cancel():
            self.notify("query cancelled")
            return
        if isinstance(self.focused, Input) and self.screen is self.screen_stack[0]:
            self.focus_now(self.query_one(TraceTable))

    def _cycle(self, key: str, options: list) -> None:
        """Next value of a drop-down filter, applied at once (the next key sees the new listing)."""
        values = [v for _, v in options]
        cur = getattr(self.filters, key)
        i = values.index(cur) + 1 if cur in values else 0
        self.apply(**{key: values[i] if i < len(values) and not (cur is None and i) else None})

    def action_cycle_format(self) -> None:
        self._cycle("format", [(f, f) for f in self.store.formats()])

    def action_cycle_correct(self) -> None:
        self._cycle("correct", _CORRECT)

    def action_cycle_label(self) -> None:
        self._cycle("label", _LABELS)

    def sort_by(self, key: str | None) -> None:
        """Sort by a column; the same column again flips the direction. The sorted column is scrolled into view."""
        if key not in COLUMNS:
            return
        if self.sort == key:
            self.descending = not self.descending
        else:
            self.sort, self.descending = key, False
        self.offset = 0
        self.reload()
        self.query_one(TraceTable).show_column(key)

    def action_choose_sort(self) -> None:
        self.push_screen(SortScreen(COLUMNS, self.sort, self.descending), self.sort_by)

    def action_reverse_sort(self) -> None:
        if self.sort:
            self.sort_by(self.sort)

    def action_page(self, step: int) -> None:
        new = self._next_offset() if step > 0 else self.offset + step * PAGE_SIZE
        if 0 <= new < max(self.total, 1) and new != self.offset:
            self.offset = new
            self.reload()

    def action_edge_page(self, last: int) -> None:
        """`<` the first trace, `>` the last one (on the last page)."""
        self.offset = ((max(self.total, 1) - 1) // PAGE_SIZE) * PAGE_SIZE if last else 0
        self.reload()
        table = self.query_one(TraceTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1 if last else 0)

    def action_label(self, label: str | None) -> None:
        """Label the row under the cursor and move down; the listing stays (no page reload)."""
        tid = self.current_id()
        if tid and self._label(tid, label):
            self.notify(f"{tid}: {label or 'label cleared'}", timeout=2)
            table = self.query_one(TraceTable)
            table.move_cursor(row=min(table.cursor_row + 1, table.row_count - 1))

    def action_mark_current(self) -> None:
        if tid := self.current_id():
            self.post_message(msg.MarkRequested(tid))

    def action_compare_current(self) -> None:
        if tid := self.current_id():
            self.post_message(msg.CompareRequested(tid))

    def action_same_question(self) -> None:
        if tid := self.current_id():

            def found(res: QueryResult) -> None:
                if not self._failed("trace", res):
                    self.post_message(msg.QuestionRequested(res.value))

            self._query(lambda st: st.trace(tid)["question_id"], found, replace=False)

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
                self.focus_now(pane)
        else:
            self.focus_now(self.query_one(TraceTable))

    def action_export(self) -> None:
        try:
            path, n = self.store.export_kept()
        except ValueError as e:
            self.notify(str(e), severity="warning")
            return
        self.notify(f"exported {n} kept traces to {path}")

    def action_reset(self) -> None:
        self.filters = Filters()
        self.sort = None
        self.offset = 0
        for iid in ("#f-skills", "#f-search", "#f-where"):
            with self.prevent(Input.Changed):
                self.query_one(iid, Input).value = ""
        self._sync_filter_widgets()
        self.reload()

    # ---- command palette ------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, then every table action (sort, pages, search, filters...) by its key's text."""
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
        for col in COLUMNS:
            yield SystemCommand(f"Sort by {col}", "again flips the order", partial(self.sort_by, col))
        if screen is self.screen_stack[0]:
            seen = {"app.export", "app.reset", "app.toggle_stats", "app.rollouts", "app.compare_current"}
            table = self.query_one(TraceTable)
            for b in TraceTable.BINDINGS:
                if isinstance(b, Binding) and b.description and b.action not in seen:
                    seen.add(b.action)
                    what = (b.tooltip or b.description).capitalize()
                    yield SystemCommand(what, f"key {key_rows([b])[0][0]}", partial(self.run_action, b.action, table))
        yield SystemCommand(
            "Help: keys, formats, columns", "Every key binding and what the codes mean", self.action_help
        )

    def on_unmount(self) -> None:
        self._closed = True
        for timer in (self._index_timer, self._labels_timer):
            if timer is not None:
                timer.stop()
        self.workers.cancel_group(self, "index")
        self.prefetch.close()
        self.queries.close()
        self.store.close()


def label_text(label: str | None) -> Text:
    return Text(label or "", style=PALETTE["sf-correct" if label == "keep" else "sf-incorrect"])


def filter_error_text(e: Exception | str) -> str:
    """DuckDB's message, except its advice to INSTALL (or auto-install) an extension: the inspector's
    read-only DuckDB cannot load one, so say that instead."""
    text = str(e)
    m = re.search(r"INSTALL (\w+)|install the required extension '(\w+)", text)
    if m:
        name = m.group(1) or m.group(2)
        return f"the WHERE box cannot use DuckDB extensions ({name} is one): use built-in functions and types"
    return text
