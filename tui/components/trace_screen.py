"""One trace: collapsible samples with their grade, reflections, glue and answer; sources on the side.

Curation happens here without going back to the table: `y`/`x` label keep/drop and move to the next
trace, arrows step through the table's listing, j/k scroll. The screen posts messages; the app owns the
listing and decides which trace a label lands on (the one the keys typed so far lead to, not the one
painted), so a fast burst of keys labels successive traces.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Collapsible, Footer, Input, Static

from tui.components.note_screen import NoteScreen
from tui.data import TraceStore
from tui.messages import (
    CompareRequested,
    LabelRequested,
    MarkRequested,
    NoteSaved,
    QuestionRequested,
    RolloutsRequested,
    StepTrace,
)
from tui.render import PALETTE, block_text, ok_text
from tui.tags import split_samples
from tui.trace_data import TraceData, load_trace


def sources_table(src: Any) -> Table:
    """Rollouts/reflections the trace was stitched from; verdict colour = matches the real grade."""
    t = Table(
        title="stitched from (o: open the rollouts)", expand=True, caption="verdict green = agrees with the grade"
    )
    t.add_column("#", no_wrap=True)
    t.add_column("variant", overflow="ellipsis", max_width=16, no_wrap=True)
    t.add_column("grade")
    t.add_column("verdict", no_wrap=True)
    for r in src.iter_rows(named=True) if src.height else []:
        grade = ok_text(r["is_correct"], "✓ ", "✗ ") + Text(str(r["reason"] or ""))
        vstyle = "" if r["verdict"] is None else PALETTE["sf-correct" if r["is_valid"] else "sf-incorrect"]
        t.add_row(str(r["step"]), Text(str(r["variant"])), grade, Text(r["verdict"] or "-", style=vstyle))
    return t


def side_head(question: dict[str, Any] | None, trace: dict[str, Any]) -> Text:
    q = question or {}
    head = Text()
    head.append("question ", style="bold")
    head.append("(Q: all its traces)\n", style="dim")
    head.append((q.get("question") or trace.get("prompt") or "")[:1200] + "\n\n")
    head.append("ground truth  ", style="bold")
    head.append(str(q.get("answer", "?")) + "\n")
    head.append("final answer  ", style="bold")
    ok = trace.get("is_correct")
    head.append(f"{trace.get('final_answer')}  ", style=PALETTE["sf-correct" if ok else "sf-incorrect"])
    head.append_text(ok_text(ok))
    head.append(f"\nformat {trace['format']}  label {trace.get('label') or '-'}")
    if trace.get("note"):
        head.append(f"\nnote: {trace['note']}", style="italic")
    return head


def same_frame(a: Any, b: Any) -> bool:
    """Two sources frames with the same rows (the side table is then left as drawn)."""
    if a is b:
        return True
    try:
        return a.shape == b.shape and a.columns == b.columns and a.equals(b)
    except Exception:  # noqa: BLE001 - frames that cannot be compared are redrawn
        return False


def sample_titles(trace: dict[str, Any], src: Any) -> list[Text]:
    """One title per <sample> block: number, grade, variant, and which earlier block it repeats."""
    rids = list(trace.get("rollout_ids") or [])
    rows = list(src.iter_rows(named=True)) if src.height else []
    titles = []
    for i in range(sum(1 for k, _ in split_samples(trace["trace"]) if k == "sample")):
        row = rows[i] if i < len(rows) else {}
        title = Text(f"sample {i + 1}  ")
        title.append_text(ok_text(row.get("is_correct"), "✓ correct", "✗ incorrect"))
        if row.get("variant"):
            title.append(f"  · {row['variant']}", style="dim")
        if i < len(rids) and rids[i] in rids[:i]:
            title.append(f"  · repeats sample {rids.index(rids[i]) + 1}", style="dim")
        titles.append(title)
    return titles


class TraceScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "back", tooltip="back to the table (leaves the find box first)"),
        Binding("right", "step(1)", "next trace", tooltip="next trace of the table's listing (same filters and sort)"),
        Binding("left", "step(-1)", "prev trace", tooltip="previous trace of the listing"),
        Binding("y", "label('keep', True)", "keep+next", tooltip="label keep (yes) and show the next trace"),
        Binding("x", "label('drop', True)", "drop+next", tooltip="label drop (crossed out) and show the next trace"),
        Binding("Y", "label('keep', False)", "keep (stay)", show=False, tooltip="label keep, stay on this trace"),
        Binding("X", "label('drop', False)", "drop (stay)", show=False, tooltip="label drop, stay on this trace"),
        Binding("u", "label(None, False)", "clear label", show=False),
        Binding("j", "scroll_body(1)", "scroll down", show=False, tooltip="scroll the trace down (as in vim)"),
        Binding("k", "scroll_body(-1)", "scroll up", show=False, tooltip="scroll the trace up"),
        Binding("n", "jump(1)", "next sample", show=False),
        Binding("p", "jump(-1)", "prev sample", show=False),
        Binding("a", "toggle_all", "expand/collapse", show=False),
        Binding("slash", "search", "find", tooltip="find text in this trace (matches highlighted)"),
        Binding("N", "next_match(1)", "next match", show=False, tooltip="jump to the next match of the find text"),
        Binding("P", "next_match(-1)", "prev match", show=False, tooltip="jump to the previous match"),
        Binding("e", "note", "note", show=False),
        Binding("m", "mark", "mark for compare", show=False),
        Binding("v", "compare", "compare", tooltip="diff with the marked trace (or eval outputs when none is marked)"),
        Binding("o", "rollouts", "rollouts", tooltip="open the rollouts and reflections this trace was stitched from"),
        Binding("Q", "question", "this question's traces", show=False),
        Binding("i", "toggle_side", "side panel", show=False, tooltip="show / hide the question and sources panel"),
    ]

    def __init__(
        self, store: TraceStore, trace_id: str, search: str = "", position: str = "", data: TraceData | None = None
    ):
        super().__init__()
        self.store = store
        self.search = search
        self.position = position
        self.load(data if data is not None else load_trace(store, trace_id))

    def load(self, data: TraceData) -> None:
        self.data = data
        self.trace_id = data.trace_id
        self.trace = data.trace
        self.src = data.src
        self.current = -1
        self.match = -1

    async def show(self, data: TraceData, position: str = "") -> None:
        """Replace the shown trace (next/previous) without leaving the screen.

        The block widgets already mounted are reused (their text, title and classes replaced in place);
        only a difference in the number or kind of blocks mounts or removes widgets: mounting a screenful
        of Collapsibles was most of a label-and-advance's time. The side panel is redrawn only when it changes.
        """
        old_src, old_question, old_head = self.src, self.data.question, self._head_key()
        self.load(data)
        self.position = position
        body = self.query_one("#trace-body", VerticalScroll)
        have = list(body.children)
        parts = list(self._block_parts())
        kept = 0
        for w, (kind, text, title) in zip(have, parts, strict=False):
            if kind == "sample" and isinstance(w, Collapsible):
                w.title = title
                w.collapsed = False
                w.remove_class("current", "match")
                w.query_one(".sample-text", Static).update(text)
            elif kind != "sample" and type(w) is Static and w.has_class("block"):
                w.set_classes(f"block {kind}")
                w.update(text)
            else:
                break
            w.display = True
            kept += 1
        spare = have[kept:]
        if parts[kept:] and spare:  # the block kinds differ from here on: these widgets cannot be reused
            await body.remove_children(spare)
            spare = []
        for w in spare:  # a shorter trace: hide the rest, kept for the next longer one (mounting costs frames)
            w.display = False
        if parts[kept:]:
            await body.mount_all([self._block_widget(*p) for p in parts[kept:]])
        body.scroll_home(animate=False)
        self.query_one("#trace-title", Static).update(self.title_text(), layout=False)  # one line: no relayout
        if self._head_key() != old_head or data.question != old_question:
            self.query_one("#side-head", Static).update(side_head(data.question, self.trace))
        if not same_frame(old_src, self.src):
            self.query_one("#side-sources", Static).update(sources_table(self.src))
        self.set_focus(body)

    def title_text(self) -> Text:
        t = self.trace
        blocks = sum(1 for k, _ in split_samples(t["trace"]) if k == "sample")
        count = f"{blocks} sample block(s)" + (f", {t['n_samples']} distinct" if blocks != t["n_samples"] else "")
        label = t.get("label")
        if self.search:
            count += f"  {t['trace'].lower().count(self.search.lower())} match(es) of {self.search!r}"
            if self.match >= 0:
                count += f" (block {self.match + 1}/{len(self.match_blocks())}, N/P)"
        if t.get("truncated"):  # a huge trace: only its start was fetched
            count += f"  showing the first {len(t['trace']):,} of {t['truncated']:,} chars"
        return Text.assemble(
            (" trace ", "reverse"),
            f" {self.position}  {t['trace_id']}  ",
            (t["format"], "bold"),
            f"  {count}  label ",
            (label or "-", PALETTE["sf-correct" if label == "keep" else "sf-incorrect"] if label else "dim"),
        )

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="trace-title")
        yield Input(self.search, placeholder="find in this trace (enter; esc leaves the box)", id="trace-search")
        with Horizontal(id="trace-main"):
            with VerticalScroll(id="trace-body"):
                yield from self._blocks()
            with VerticalScroll(id="side"):
                yield Static(side_head(self.data.question, self.trace), id="side-head")
                yield Static(sources_table(self.src), id="side-sources")
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(bool(self.search), "-searching")
        if not self.app.has_class("-narrow"):  # at 80 columns the side panel waits for `i`
            self.add_class("-side")
        self.query_one("#trace-body").focus()

    def _block_parts(self):
        """(kind, rendered text, title or None) of each block of the trace, in order."""
        titles = iter(sample_titles(self.trace, self.src))
        for kind, text in split_samples(self.trace["trace"]):
            yield kind, block_text(kind, text, self.search), next(titles) if kind == "sample" else None

    @staticmethod
    def _block_widget(kind: str, body: Text, title: Text | None) -> Widget:
        if kind == "sample":
            return Collapsible(
                Static(body, classes="sample-text"),
                title=title,  # type: ignore[arg-type]  # Textual renders a rich Text title (styled header)
                collapsed=False,
                classes="sample",
            )
        return Static(body, classes=f"block {kind}")

    def _blocks(self):
        for part in self._block_parts():
            yield self._block_widget(*part)

    def _head_key(self) -> tuple:
        """What the side panel's head shows of the trace (it is redrawn only when this changes)."""
        t = self.trace
        return (
            t.get("question_id"),
            t.get("prompt"),
            t.get("final_answer"),
            t.get("is_correct"),
            t["format"],
            t.get("label"),
            t.get("note"),
        )

    def samples(self) -> list[Collapsible]:
        """The trace's sample blocks (widgets kept hidden for reuse are not part of it)."""
        return [c for c in self.query(Collapsible) if c.display]

    # ---- keys -------------------------------------------------------------------------------
    def action_back(self) -> None:
        """Esc leaves the find box first, then the screen."""
        if isinstance(self.focused, Input):
            self.query_one("#trace-body").focus()
        else:
            self.dismiss()

    def action_step(self, step: int) -> None:
        self.post_message(StepTrace(step))

    def action_label(self, label: str | None, advance: bool) -> None:
        # no id: the app labels the trace its listing stands on when the message is handled (in key order)
        self.post_message(LabelRequested(None, label, advance))

    def action_scroll_body(self, step: int) -> None:
        self.query_one("#trace-body", VerticalScroll).scroll_relative(y=3 * step, animate=False)

    def match_blocks(self) -> list:
        """The blocks (samples and others) whose text holds the find text, in trace order."""
        if not self.search:
            return []
        needle = self.search.lower()
        out = []
        for w in self.query_one("#trace-body").children:
            if not w.display:
                continue
            body = w.query_one(".sample-text", Static) if isinstance(w, Collapsible) else w
            if needle in str(getattr(body, "content", "")).lower():
                out.append(w)
        return out

    def action_next_match(self, step: int) -> None:
        """Jump to the next (previous) block holding a match of the find text; it is expanded and marked."""
        hits = self.match_blocks()
        if not hits:
            self.notify("no match of the find text" if self.search else "nothing to find: / sets the find text")
            return
        self.match = (self.match + step) % len(hits) if self.match >= 0 or step > 0 else len(hits) - 1
        target = hits[self.match]
        if isinstance(target, Collapsible):
            target.collapsed = False
        self.query_one("#trace-body", VerticalScroll).scroll_to_widget(target, top=True, animate=False)
        for w in self.query_one("#trace-body").children:
            w.set_class(w is target, "match")
        self.query_one("#trace-title", Static).update(self.title_text(), layout=False)  # one line: no relayout

    def action_mark(self) -> None:
        self.post_message(MarkRequested(self.trace_id))

    def action_compare(self) -> None:
        self.post_message(CompareRequested(self.trace_id))

    def action_question(self) -> None:
        self.post_message(QuestionRequested(self.trace["question_id"]))

    def action_rollouts(self) -> None:
        ids = list(dict.fromkeys(self.trace.get("rollout_ids") or []))
        self.post_message(RolloutsRequested(ids, None, f"sources of trace {self.trace_id}"))

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

    def action_toggle_side(self) -> None:
        self.toggle_class("-side")

    def action_search(self) -> None:
        self.add_class("-searching")
        self.query_one("#trace-search", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "trace-search":
            self.search = event.value.strip()
            self.match = -1
            await self.recompose()
            self.set_class(bool(self.search), "-searching")
            self.query_one("#trace-body").focus()

    def refresh_trace(self) -> None:
        """After a label or note change: new header and side panel, same blocks (the label and note come from
        the store's labels, already saved: no query)."""
        self.data = self.data.with_labels(self.store.labels)
        self.trace = self.data.trace
        self.query_one("#trace-title", Static).update(self.title_text(), layout=False)  # one line: no relayout
        self.query_one("#side-head", Static).update(side_head(self.data.question, self.trace))

    def action_note(self) -> None:
        def done(note: str | None) -> None:
            if note is not None:
                self.post_message(NoteSaved(self.trace_id, note))

        self.app.push_screen(NoteScreen(self.store.labels.get(self.trace_id, (None, ""))[1]), done)
