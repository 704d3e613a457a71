"""The inspector's widgets and screens, one per module (as in Harlequin's components package)."""

from tui.components.compare_screen import CompareScreen
from tui.components.help_screen import HelpScreen
from tui.components.note_screen import NoteScreen
from tui.components.rollouts_screen import RolloutsScreen
from tui.components.sort_screen import SortScreen
from tui.components.stats_pane import StatsPane
from tui.components.trace_screen import TraceScreen
from tui.components.trace_table import TraceTable
from tui.components.where_suggester import ColumnSuggester

__all__ = [
    "ColumnSuggester",
    "CompareScreen",
    "HelpScreen",
    "NoteScreen",
    "RolloutsScreen",
    "SortScreen",
    "StatsPane",
    "TraceScreen",
    "TraceTable",
]
