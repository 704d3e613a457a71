"""Store queries off the UI thread, one at a time, each on its own DuckDB cursor, cancellable.

A heavy WHERE (a regex over every trace, a CAST over a million rows) must not freeze the app:
the app submits page loads, counts and statistics here, keeps handling keys, and Esc calls
`cancel()`, which interrupts the running DuckDB query (`connection.interrupt()`). A newer
submission replaces an older one the same way (only the latest answer is wanted). Every
outcome is a `QueryResult`: the value, or a one-line error, or `cancelled`; nothing raises
into the UI. No Textual import, so it is tested on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tui.data import FilterError, QueryCancelled, TraceStore, one_line


@dataclass
class QueryResult:
    value: Any = None
    error: str | None = None  # one line, for the status bar
    cancelled: bool = False
    generation: int = 0  # which submission this answers (older answers are dropped by the app)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


class QueryWorker:
    """Runs `fn(store_fork)` on one background thread; `cancel()` interrupts what runs now."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sf-inspect-query")
        self._lock = threading.Lock()
        self._running: TraceStore | None = None  # the fork whose query runs now
        self._generation = 0

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def generation(self) -> int:
        return self._generation

    def submit(self, fn: Callable[[TraceStore], Any]) -> Future[QueryResult]:
        """Queue `fn`; the query running now (an older answer nobody waits for) is interrupted first."""
        with self._lock:
            self._generation += 1
            gen = self._generation
        self.cancel()
        return self._pool.submit(self._call, fn, gen)

    def call(self, fn: Callable[[TraceStore], Any]) -> QueryResult:
        """Run `fn` here (on the caller's thread) with the same error handling and cancel support."""
        with self._lock:
            self._generation += 1
            gen = self._generation
        return self._call(fn, gen)

    def _call(self, fn: Callable[[TraceStore], Any], gen: int) -> QueryResult:
        if gen != self._generation:  # replaced while it waited: not even started
            return QueryResult(cancelled=True, generation=gen)
        fork = self.store.fork()
        with self._lock:
            self._running = fork
        try:
            if gen != self._generation:  # replaced between the check above and now
                return QueryResult(cancelled=True, generation=gen)
            return QueryResult(fn(fork), generation=gen)
        except QueryCancelled:
            return QueryResult(cancelled=True, generation=gen)
        except FilterError as e:
            return QueryResult(error=str(e), generation=gen)
        except Exception as e:  # noqa: BLE001 - the UI shows one line and keeps running
            if type(e).__name__ == "InterruptException":
                return QueryResult(cancelled=True, generation=gen)
            return QueryResult(error=f"{type(e).__name__}: {one_line(str(e))}", generation=gen)
        finally:
            with self._lock:
                self._running = None
            try:
                fork.con.close()
            except Exception:  # noqa: BLE001 - closing a cursor of a closed store
                pass

    def cancel(self) -> bool:
        """Interrupt the running query (it then answers `cancelled`); False when none runs."""
        with self._lock:
            fork = self._running
        if fork is None:
            return False
        fork.cancelled = True  # the store checks it before each query it starts
        fork.interrupt()
        threading.Thread(target=self._keep_interrupting, args=(fork,), daemon=True).start()
        return True

    def _keep_interrupting(self, fork: TraceStore, every_s: float = 0.05, for_s: float = 10.0) -> None:
        """An interrupt that lands between two statements of one store call is lost: repeat it until the call
        has ended (a cancelled call ends within one interval)."""
        deadline = time.monotonic() + for_s
        while self._running is fork and time.monotonic() < deadline:
            time.sleep(every_s)
            if self._running is fork:
                fork.interrupt()

    def close(self) -> None:
        self.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
