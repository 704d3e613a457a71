"""Everything the trace view shows for one trace, read in one go (off the UI thread when possible).

The trace row, its sources and its question are read together so the app can fetch them on the
query worker (or prefetch the next trace's while the user reads this one) and the screen paints
without touching the store. No Textual import, so it is tested on its own.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tui.data import TraceStore


@dataclass
class TraceData:
    trace: dict[str, Any]
    src: Any  # polars DataFrame of the rollouts/reflections it was stitched from
    question: dict[str, Any] | None

    @property
    def trace_id(self) -> str:
        return self.trace["trace_id"]

    def with_labels(self, labels: dict[str, tuple[str, str]]) -> TraceData:
        """The same data with the label and note as they are now (a prefetched row may predate a label)."""
        label, note = labels.get(self.trace_id, (None, ""))
        return TraceData({**self.trace, "label": label, "note": note or None}, self.src, self.question)


def load_trace(store: TraceStore, trace_id: str) -> TraceData:
    """Trace, sources and question of one trace (KeyError when the id is not in the run)."""
    trace = store.trace(trace_id)
    return TraceData(trace, store.sources(trace), store.question(trace["question_id"]))


class Prefetcher:
    """Reads the trace the user will most likely open next on its own thread and cursor, so the next
    label-and-advance paints without a store round trip. Best effort: a miss or an error reads it again."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sf-inspect-prefetch")
        self._lock = threading.Lock()
        self._ahead: dict[str, Future[TraceData]] = {}

    def want(self, trace_ids: list[str]) -> None:
        """Keep these ids read ahead (older ones are dropped)."""
        with self._lock:
            for tid in list(self._ahead):
                if tid not in trace_ids:
                    self._ahead.pop(tid).cancel()
            for tid in trace_ids:
                if tid not in self._ahead:
                    self._ahead[tid] = self._pool.submit(self._read, tid)

    def _read(self, trace_id: str) -> TraceData:
        fork = self.store.fork()
        try:
            return load_trace(fork, trace_id)
        finally:
            fork.con.close()

    def take(self, trace_id: str, wait_s: float = 1.0) -> TraceData | None:
        """The read-ahead data of `trace_id` (waiting up to `wait_s` for one under way), else None."""
        with self._lock:
            fut = self._ahead.pop(trace_id, None)
        if fut is None or fut.cancelled():
            return None
        try:
            data = fut.result(timeout=wait_s)
        except Exception:  # noqa: BLE001 - a failed or slow read-ahead: the caller reads it itself
            return None
        return data.with_labels(self.store.labels)

    def forget(self) -> None:
        """Drop every read-ahead (labels or the listing changed under them)."""
        with self._lock:
            for fut in self._ahead.values():
                fut.cancel()
            self._ahead.clear()

    def close(self) -> None:
        self.forget()
        self._pool.shutdown(wait=True, cancel_futures=True)
