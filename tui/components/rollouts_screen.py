"""The rollouts browser: the real model outputs with their grade (and reason) and reflections.

Reached from a trace's sources (`o` in the trace view), from the table (`o`: all rollouts),
and opened at start for a run that has rollouts but no traces yet. Filters: grade (c), a verdict that
disagrees with the grade (D), prompt variant (V) and text in the response (/).

The verdicts column reads `2C 1I (1 right)`: two reflections said Correct, one said Incorrect, and one of
the three verdicts matches the real grade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui.data import PAGE_SIZE, TraceStore, one_line
from tui.query_worker import QueryResult
from tui.render import PALETTE, ok_text, trace_text, verdict_style

_COLS = ("is_correct", "reason", "verdicts", "variant", "sample_idx", "reflections", "rollout_id", "question_id")


def rollout_detail(rollout: dict[str, Any], reflections: list[dict[str, Any]]) -> Text:
    """Prompt, response, grade and every reflection with its verdict and validity."""
    t = Text()
    t.append(f"rollout {rollout['rollout_id']}  variant {rollout['variant']}  sample {rollout['sample_idx']}\n", "bold")
    t.append("prompt  ", "bold")
    t.append((rollout.get("prompt") or "")[-600:] + "\n", "dim")
    t.append("grade ", "bold")
    t.append_text(ok_text(rollout.get("is_correct"), "✓ correct", "✗ incorrect"))
    t.append(f"  reason {rollout.get('reason') or '-'}  extracted {rollout.get('extracted_answer')!r}\n\n")
    t.append("response\n", "bold underline")
    t.append_text(trace_text(rollout.get("response") or "", outside="sample"))
    t.append("\n\n")
    for r in reflections:
        t.append(f"reflection {r['reflection_idx']}  ", "bold underline")
        t.append(str(r["verdict"] or "no verdict"), verdict_style(r["verdict"] or ""))
        valid = r.get("is_valid")
        t.append("  matches the grade\n" if valid else "  disagrees with the grade\n" if valid is not None else "\n")
        t.append_text(trace_text(r.get("text") or "", outside="reflect"))
        t.append("\n\n")
    if not reflections:
        t.append("no reflections for this rollout", "dim")
    return t


class RolloutsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "back", tooltip="back (leaves the search box first)"),
        Binding("right_square_bracket", "page(1)", "next page"),
        Binding("left_square_bracket", "page(-1)", "prev page"),
        Binding("c", "cycle_correct", "grade", tooltip="cycle correct / incorrect / any grade"),
        Binding(
            "D", "toggle_disagree", "disagrees", tooltip="only rollouts with a verdict that disagrees with the grade"
        ),
        Binding("V", "cycle_variant", "variant", tooltip="cycle the prompt variant filter"),
        Binding("slash", "search", "search", tooltip="search the responses (enter applies, esc leaves the box)"),
        Binding("j", "cursor(1)", "down", show=False),
        Binding("k", "cursor(-1)", "up", show=False),
    ]

    def __init__(
        self,
        store: TraceStore,
        rollout_ids: list[str] | None = None,
        question_id: str | None = None,
        title: str = "",
        standalone: str | None = None,
    ):
        super().__init__()
        self.standalone = standalone  # the traces file's name when it is not a run's own
        self.store = store
        self.rollout_ids = rollout_ids
        self.question_id = question_id
        self.title_text = title or "all rollouts"
        self.page_offset = 0
        self.total = 0
        self.correct: bool | None = None
        self.disagree = False
        self.variant: str | None = None
        self.search = ""
        #: how a store read runs: `runner(job, done)`; the app sets its query worker (off the UI thread,
        #: errors as one line); on its own the screen reads here
        self.runner: Callable[[Callable[[TraceStore], Any], Callable[[QueryResult], None]], None] = self._inline

    def _inline(self, job: Callable[[TraceStore], Any], done: Callable[[QueryResult], None]) -> None:
        try:
            res = QueryResult(job(self.store))
        except Exception as e:  # noqa: BLE001 - one line on screen, as the worker would say it
            res = QueryResult(error=f"{type(e).__name__}: {one_line(str(e))}")
        done(res)

    def _error(self, res: QueryResult) -> bool:
        if res.ok:
            return False
        if res.error:
            self.query_one("#rollout-body", Static).update(Text(f"rollouts: {res.error}", PALETTE["sf-incorrect"]))
        return True

    def compose(self) -> ComposeResult:
        yield Static("", id="rollouts-title")
        yield Input(placeholder="search the responses (enter applies; esc leaves the box)", id="rollouts-search")
        with Vertical():
            yield DataTable(id="rollouts", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="rollout-detail"):
                yield Static("", id="rollout-body")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for c in _COLS:
            table.add_column(c, key=c)
        self.reload()
        table.focus()

    def reload(self) -> None:
        ids, qid, offset = self.rollout_ids, self.question_id, self.page_offset
        correct, disagree, variant, search = self.correct, self.disagree, self.variant, self.search
        self.runner(
            lambda st: st.rollouts_page(
                ids, qid, offset, PAGE_SIZE, correct=correct, disagree=disagree, variant=variant, search=search
            ),
            self._show_page,
        )

    def _show_page(self, res: QueryResult) -> None:
        if self._error(res):
            return
        page = res.value
        self.total = page.total
        table = self.query_one(DataTable)
        table.clear()
        for r in page.rows:
            verdicts = Text()
            verdicts.append(f"{r['n_say_correct']}C", PALETTE["sf-correct"])
            verdicts.append(f" {r['n_say_incorrect']}I", PALETTE["sf-incorrect"])
            verdicts.append(f" ({r['n_valid']} right)", "dim")
            table.add_row(
                ok_text(r["is_correct"]),
                Text(str(r["reason"] or "")),  # Text, not str: data is never parsed as markup
                verdicts,
                Text(str(r["variant"] or "")),
                str(r["sample_idx"]),
                str(r["n_reflections"]),
                Text(str(r["rollout_id"])),
                Text(str(r["question_id"])),
                key=r["rollout_id"],
            )
        last = min(self.page_offset + PAGE_SIZE, self.total)
        self.query_one("#rollouts-title", Static).update(
            Text.assemble(
                (" rollouts ", "reverse"),
                f" {self.title_text}: {self.total:,} rows, {self.page_offset + 1 if self.total else 0}-{last}",
                (self.applied(), "bold"),
            )
        )
        if not page.rows:
            self.query_one("#rollout-body", Static).update(Text(self.empty_text(), "dim"))

    def empty_text(self) -> str:
        if self.standalone:
            return f"{self.standalone} is a traces file on its own: its rollouts are not here (open its run for them)"
        return "no rollouts in this run yet (sf generate)"

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        rid = event.row_key.value

        def show(res: QueryResult) -> None:
            table = self.query_one(DataTable)
            if self._error(res) or not table.row_count:
                return
            if (
                table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value == rid
            ):  # still the row on view
                self.query_one("#rollout-body", Static).update(rollout_detail(*res.value))

        self.runner(lambda st: st.rollout(rid), show)

    def applied(self) -> str:
        parts = []
        if self.correct is not None:
            parts.append("correct" if self.correct else "incorrect")
        if self.disagree:
            parts.append("verdict disagrees with grade")
        if self.variant:
            parts.append(f"variant {self.variant}")
        if self.search:
            parts.append(f"search {self.search!r}")
        return ("  filters: " + ", ".join(parts)) if parts else ""

    def _refilter(self) -> None:
        self.page_offset = 0
        self.reload()

    def action_cycle_correct(self) -> None:
        self.correct = {None: True, True: False, False: None}[self.correct]
        self._refilter()

    def action_toggle_disagree(self) -> None:
        self.disagree = not self.disagree
        self._refilter()

    def action_cycle_variant(self) -> None:
        def cycle(res: QueryResult) -> None:
            if self._error(res):
                return
            variants = [None, *res.value]
            self.variant = variants[(variants.index(self.variant) + 1) % len(variants)]
            self._refilter()

        self.runner(lambda st: st.rollout_variants(), cycle)

    def action_search(self) -> None:
        self.add_class("-searching")
        self.set_focus(self.query_one("#rollouts-search", Input))

    def action_cursor(self, step: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, table.cursor_row + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "rollouts-search":
            self.search = event.value.strip()
            self._refilter()
            self.set_focus(self.query_one(DataTable))

    def action_back(self) -> None:
        """Esc leaves the search box first, then the browser."""
        if isinstance(self.focused, Input):
            self.set_focus(self.query_one(DataTable))
        else:
            self.dismiss()

    def action_page(self, step: int) -> None:
        new = self.page_offset + step * PAGE_SIZE
        if 0 <= new < max(self.total, 1):
            self.page_offset = new
            self.reload()
