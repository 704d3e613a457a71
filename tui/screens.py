"""Screens: one trace (blocks + sources panel), compare side by side, note input, help."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Collapsible, Footer, Input, Static

from tui.data import TraceStore, split_samples
from tui.render import block_text, trace_text

KEYS = [
    (
        "Table",
        [
            ("enter", "open the trace under the cursor"),
            ("/", "focus the search box"),
            ("f", "cycle the format filter"),
            ("c", "cycle correct / incorrect / any"),
            ("l", "cycle label filter keep / drop / unlabeled / any"),
            ("s", "sort: a column ascending, again descending, then the next column (or click a header)"),
            ("] / [", "next / previous page"),
            ("k / d / u", "keep / drop / clear label"),
            ("m", "mark for compare"),
            ("x", "export kept traces to RUN/exports/kept.parquet"),
            ("r", "reset filters"),
            ("ctrl+p", "command palette"),
            ("?", "this help"),
            ("q", "quit"),
        ],
    ),
    (
        "Trace",
        [
            ("n / p", "jump to next / previous sample"),
            ("a", "expand or collapse all samples"),
            ("k / d / u", "keep / drop / clear label"),
            ("e", "edit the note"),
            ("m", "mark for compare"),
            ("c", "compare with the marked trace (or an eval output)"),
            ("escape", "back to the table"),
        ],
    ),
    (
        "Filters",
        [
            ("format, correct, label", "drop-downs"),
            (
                "skills",
                "e.g. 'backtrack !retry' (! = absent): reflect retry backtrack confirm multi wait verify alternatively",
            ),
            ("search", "case-insensitive text in the trace"),
            ("where", "raw SQL over trace columns, e.g. n_samples >= 3 AND length(trace) < 4000"),
        ],
    ),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        t = Table(title="SkillFactory inspector: keys", show_header=False, expand=True)
        t.add_column("key", style="bold #88c0d0", no_wrap=True)
        t.add_column("what")
        for section, rows in KEYS:
            t.add_row(Text(section, style="bold underline"), "")
            for k, what in rows:
                t.add_row(k, what)
        yield Vertical(Static(t), Static("escape to close", classes="hint"), id="help")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class NoteScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, note: str = ""):
        super().__init__()
        self.note = note

    def compose(self) -> ComposeResult:
        yield Vertical(
            Static("Note for this trace (enter saves, escape cancels)"), Input(self.note, id="note-input"), id="note"
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def sources_table(store: TraceStore, trace: dict[str, Any]) -> Table:
    """Rollouts/reflections the trace was stitched from; verdict colour = matches the real grade."""
    src = store.sources(trace)
    t = Table(title="stitched from", expand=True, caption="verdict green = agrees with the real grade")
    t.add_column("#", no_wrap=True)
    t.add_column("variant", overflow="ellipsis", max_width=16, no_wrap=True)
    t.add_column("grade")
    t.add_column("verdict", no_wrap=True)
    for r in src.iter_rows(named=True) if src.height else []:
        ok = r["is_correct"]
        grade = Text(("✓ " if ok else "✗ ") + str(r["reason"] or ""), style="#a3be8c" if ok else "#bf616a")
        verdict = r["verdict"] or "-"
        vstyle = "" if r["verdict"] is None else ("#a3be8c" if r["is_valid"] else "#bf616a")
        t.add_row(str(r["step"]), str(r["variant"]), grade, Text(verdict, style=vstyle))
    return t


def side_panel(store: TraceStore, trace: dict[str, Any]) -> tuple[Text, Table]:
    q = store.question(trace["question_id"]) or {}
    head = Text()
    head.append("question\n", style="bold")
    head.append((q.get("question") or trace.get("prompt") or "")[:1200] + "\n\n")
    head.append("ground truth  ", style="bold")
    head.append(str(q.get("answer", "?")) + "\n")
    head.append("final answer  ", style="bold")
    ok = trace.get("is_correct")
    head.append(f"{trace.get('final_answer')}  ", style="#a3be8c" if ok else "#bf616a")
    head.append("✓" if ok else "✗" if ok is not None else "?")
    head.append(f"\nformat {trace['format']}  N={trace['n_samples']}  label {trace.get('label') or '-'}")
    if trace.get("note"):
        head.append(f"\nnote: {trace['note']}", style="italic")
    return head, sources_table(store, trace)


class TraceScreen(Screen[None]):
    """One trace: collapsible samples with their reflections, glue and answer; sources on the right."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("n", "jump(1)", "next sample"),
        Binding("p", "jump(-1)", "prev sample"),
        Binding("a", "toggle_all", "expand/collapse"),
        Binding("k", "label('keep')", "keep"),
        Binding("d", "label('drop')", "drop"),
        Binding("u", "label(None)", "clear"),
        Binding("e", "note", "note"),
        Binding("m", "mark", "mark"),
        Binding("c", "compare", "compare"),
    ]

    def __init__(self, store: TraceStore, trace_id: str):
        super().__init__()
        self.store = store
        self.trace_id = trace_id
        self.trace = store.trace(trace_id)
        self.current = -1

    def compose(self) -> ComposeResult:
        t = self.trace
        yield Static(
            Text.assemble(
                (" trace ", "reverse"), f" {t['trace_id']}  ", (t["format"], "bold"), f"  {t['n_samples']} sample(s)"
            ),
            id="trace-title",
        )
        with Horizontal():
            with VerticalScroll(id="trace-body"):
                yield from self._blocks()
            head, sources = side_panel(self.store, t)
            with VerticalScroll(id="side"):
                yield Static(head, id="side-head")
                yield Static(sources, id="side-sources")
        yield Footer()

    def _blocks(self):
        n = 0
        for kind, text in split_samples(self.trace["trace"]):
            if kind == "sample":
                n += 1
                first = text.strip().splitlines()[0][:70] if text.strip() else ""
                yield Collapsible(
                    Static(block_text(kind, text), classes="sample-text"),
                    title=f"sample {n}: {first}",
                    collapsed=False,
                    classes="sample",
                )
            else:
                yield Static(block_text(kind, text), classes=f"block {kind}")

    def samples(self) -> list[Collapsible]:
        return list(self.query(Collapsible))

    def action_jump(self, step: int) -> None:
        items = self.samples()
        if not items:
            return
        self.current = max(0, min(len(items) - 1, self.current + step))
        target = items[self.current]
        target.collapsed = False
        self.query_one("#trace-body", VerticalScroll).scroll_to_widget(target, top=True, animate=False)
        for i, c in enumerate(items):
            c.set_class(i == self.current, "current")

    def action_toggle_all(self) -> None:
        items = self.samples()
        collapse = not all(c.collapsed for c in items)
        for c in items:
            c.collapsed = collapse

    def _refresh_side(self) -> None:
        self.trace = self.store.trace(self.trace_id)
        head, sources = side_panel(self.store, self.trace)
        self.query_one("#side-head", Static).update(head)
        self.query_one("#side-sources", Static).update(sources)

    def action_label(self, label: str | None) -> None:
        self.app.set_label(self.trace_id, label)  # type: ignore[attr-defined]
        self._refresh_side()

    def action_note(self) -> None:
        def done(note: str | None) -> None:
            if note is not None:
                label = self.store.labels.get(self.trace_id, (None, ""))[0]
                self.store.set_label(self.trace_id, label, note)
                self.app.notify("note saved")  # type: ignore[attr-defined]
                self._refresh_side()

        self.app.push_screen(NoteScreen(self.store.labels.get(self.trace_id, (None, ""))[1]), done)

    def action_mark(self) -> None:
        self.app.mark(self.trace_id)  # type: ignore[attr-defined]

    def action_compare(self) -> None:
        self.app.compare(self.trace_id)  # type: ignore[attr-defined]


class CompareScreen(Screen[None]):
    """Two texts side by side: two traces, or a trace and an eval output."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("n", "cycle(1)", "next eval output"),
        Binding("p", "cycle(-1)", "prev eval output"),
    ]

    def __init__(self, store: TraceStore, left_id: str, right_id: str | None):
        super().__init__()
        self.store = store
        self.left = store.trace(left_id)
        self.right_id = right_id
        self.evals = store.eval_outputs() if right_id is None else None
        self.idx = 0

    def _right(self) -> tuple[str, Text]:
        if self.right_id is not None:
            r = self.store.trace(self.right_id)
            return f"trace {r['trace_id']} ({r['format']})", trace_text(r["trace"])
        if self.evals is None or self.evals.height == 0:
            return "nothing to compare", Text("Mark a trace with m first, or run `sf eval` so eval outputs exist.")
        row = self.evals.row(self.idx % self.evals.height, named=True)
        ok = "✓" if row["is_correct"] else "✗"
        return (
            f"eval {row['stage']} {row['task']}:{row['level']} {ok} ({self.idx % self.evals.height + 1}/{self.evals.height})",
            trace_text(row["response"] or ""),
        )

    def compose(self) -> ComposeResult:
        title, body = self._right()
        with Horizontal():
            with VerticalScroll(classes="pane"):
                yield Static(Text(f"trace {self.left['trace_id']} ({self.left['format']})", style="bold"))
                yield Static(trace_text(self.left["trace"]))
            with VerticalScroll(classes="pane", id="right-pane"):
                yield Static(Text(title, style="bold"), id="right-title")
                yield Static(body, id="right-body")
        yield Footer()

    def action_cycle(self, step: int) -> None:
        if self.right_id is None and self.evals is not None and self.evals.height:
            self.idx += step
            title, body = self._right()
            self.query_one("#right-title", Static).update(Text(title, style="bold"))
            self.query_one("#right-body", Static).update(body)
