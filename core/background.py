"""A thread that stores an import's batches while the caller reads the next ones.

The bulk writers of recipients (campaigns.recipients.bulk) and of contacts (contacts.upsert)
each hand their batches to such a thread, which runs its statements on the default
connection's driver connection (psycopg's is thread-safe; SQLite built serialised runs two
threads' statements one at a time). What they share lives here: the queue, stopping, and the
rule that the first error stops the work and is raised again in the caller's thread.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any


class BatchThread:
    """Runs ``handle(batch)`` on a thread for every batch ``put``, in order, then ``last()``
    once the thread is stopped (unless something failed). After an error the batches still
    coming are only drained, and ``put``, ``stop`` and ``raise_if_failed`` raise it in the
    caller's thread. At most ``waiting`` batches wait in the queue: the caller, reading
    faster, then waits for the thread rather than holding the whole file in memory."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], None],
        *,
        last: Callable[[], None] | None = None,
        waiting: int = 1,
    ):
        self.error: BaseException | None = None
        self._handle, self._last = handle, last
        self._batches: queue.Queue = queue.Queue(maxsize=waiting)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._batches.get()) is not None:
            if self.error is None:  # after a failure, batches are only drained
                self._guarded(self._handle, batch)
        if self.error is None and self._last is not None:
            self._guarded(self._last)

    def _guarded(self, work: Callable, *args) -> None:
        try:
            work(*args)
        except BaseException as error:  # raised again in the caller's thread
            self.error = error

    def put(self, batch: Any) -> None:
        self.raise_if_failed()
        self._batches.put(batch)

    def drop_waiting(self) -> None:
        """Takes back a batch still waiting (the caller is failing: it need not be stored)."""
        with contextlib.suppress(queue.Empty):
            self._batches.get_nowait()

    def stop(self) -> None:
        """Waits until the thread has handled every batch put and ``last``; idempotent."""
        if self._thread.is_alive():
            self._batches.put(None)
            self._thread.join()

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """Stops the thread and raises what went wrong in it."""
        self.stop()
        self.raise_if_failed()
