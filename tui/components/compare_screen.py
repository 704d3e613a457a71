"""Two texts side by side with a line diff: two traces, or a trace and an eval output."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.data import TraceStore
from tui.render import diff_texts


class CompareScreen(Screen[None]):
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

    def _right(self) -> tuple[str, str | None]:
        if self.right_id is not None:
            r = self.store.trace(self.right_id)
            return f"trace {r['trace_id']} ({r['format']})", r["trace"]
        if self.evals is None or self.evals.height == 0:
            return "nothing to compare: mark a trace with m first, or run `sf eval` so eval outputs exist", None
        row = self.evals.row(self.idx % self.evals.height, named=True)
        ok = "✓" if row["is_correct"] else "✗"
        n = self.evals.height
        return f"eval {row['stage']} {row['task']}:{row['level']} {ok} ({self.idx % n + 1}/{n})", row["response"] or ""

    def _bodies(self) -> tuple[Text, Text]:
        _, right = self._right()
        return diff_texts(self.left["trace"], right if right is not None else "")

    def compose(self) -> ComposeResult:
        title, _ = self._right()
        left, right = self._bodies()
        yield Static("lines only on the left are red, only on the right green", classes="hint")
        with Horizontal():
            with VerticalScroll(classes="pane"):
                yield Static(Text(f"trace {self.left['trace_id']} ({self.left['format']})", style="bold"))
                yield Static(left, id="left-body")
            with VerticalScroll(classes="pane", id="right-pane"):
                yield Static(Text(title, style="bold"), id="right-title")
                yield Static(right, id="right-body")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """n / p step through eval outputs only when the right side shows them (not even in the footer otherwise)."""
        return not (action == "cycle" and (self.right_id is not None or self.evals is None or not self.evals.height))

    def action_cycle(self, step: int) -> None:
        if self.right_id is None and self.evals is not None and self.evals.height:
            self.idx += step
            title, _ = self._right()
            left, right = self._bodies()
            self.query_one("#right-title", Static).update(Text(title, style="bold"))
            self.query_one("#left-body", Static).update(left)
            self.query_one("#right-body", Static).update(right)
