"""Completion for the WHERE box: the identifier being typed, completed to a column of the view."""

from __future__ import annotations

import re

from textual.suggester import Suggester

_LAST_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)$")


class ColumnSuggester(Suggester):
    def __init__(self, columns: list[str]):
        super().__init__(use_cache=False, case_sensitive=True)
        self.columns = sorted(columns)

    async def get_suggestion(self, value: str) -> str | None:
        m = _LAST_WORD.search(value)
        if not m:
            return None
        word = m.group(1)
        hit = next((c for c in self.columns if c.startswith(word.lower()) and c != word), None)
        return value[: m.start()] + hit if hit else None
