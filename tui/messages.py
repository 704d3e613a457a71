"""Typed messages the inspector's screens post to the app (no screen calls the app directly)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class LabelRequested(Message):
    """Set keep / drop (None clears) on a trace; `advance` moves on to the next trace after.

    `trace_id` None: the trace the trace view stands on when the app handles the message (after every
    earlier key's message), not the one painted when the key was pressed."""

    trace_id: str | None
    label: str | None
    advance: bool = False


@dataclass
class NoteSaved(Message):
    """The note editor returned a new note for a trace (its label stays)."""

    trace_id: str
    note: str


@dataclass
class StepTrace(Message):
    """Show the next (+1) or previous (-1) trace of the table's listing in the trace view."""

    step: int


@dataclass
class MarkRequested(Message):
    trace_id: str


@dataclass
class CompareRequested(Message):
    trace_id: str


@dataclass
class QuestionRequested(Message):
    """Filter the table to every trace of one question."""

    question_id: str


@dataclass
class RolloutsRequested(Message):
    """Open the rollouts browser on some rollouts (a trace's sources), one question, or all."""

    rollout_ids: list[str] | None = None
    question_id: str | None = None
    title: str = "all rollouts"
