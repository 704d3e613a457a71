"""Choose the sort column directly from a list; returns the column name through `dismiss`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class SortScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, columns: tuple[str, ...], current: str | None, descending: bool):
        super().__init__()
        self.columns = columns
        self.current = current
        self.descending = descending

    def compose(self) -> ComposeResult:
        arrow = " ▼" if self.descending else " ▲"
        opts = [Option(c + (arrow if c == self.current else ""), id=c) for c in self.columns]
        yield Vertical(
            Static("Sort by (enter; the current column again flips the order)"),
            OptionList(*opts, id="sort-options"),
            id="sort",
        )

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        if self.current in self.columns:
            ol.highlighted = self.columns.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
