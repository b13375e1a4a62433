"""What both imports (a campaign's recipients in campaigns.recipients.checking, the contact
book in contacts.checking) share to work their rows on every core: the pool of children that
answer each batch, the tally of a run, and the frozen heap.

Children are forked as core.children.Workers (they cannot hang the import; a lost one raises
ChildLost). A batch too small for the pool is worked in the import's process, by the same code.
"""

from __future__ import annotations

import gc
import marshal
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from core import children
from core.rejections import Code
from core.tables.table import Row

_POOL_THRESHOLD = 2_000  # rows: below this a batch is worked here, the pool costs more


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_country: dict[str, int] = field(default_factory=dict)
    done: int = 0  # rows read
    total: int = 0  # rows expected, for the progress bar

    def reject(self, code: Code) -> None:
        self.rejected += 1
        # Code is a str: its member counts under its value, without the enum's slow .value.
        self.by_reason[code] = self.by_reason.get(code, 0) + 1


class Pool:
    """The children working ``work`` on ``processes`` cores (all by default). ``work`` takes
    ``(numbers, rows)`` (or the same marshalled) and answers a tuple of lists and count dicts;
    the answers of a batch's shares are put together, the lists end to end and the counts
    added. Use as a context manager: entering forks them (do it while this process is small:
    forked after a workbook is loaded, each would carry the sheet too), leaving stops them.
    ``answers`` gives, for each batch of rows, ``(batch, *answer)`` in order, the next batch
    being worked while the caller finishes this one. Raises children.ChildLost when a child
    dies, or owes an answer for ``stall_seconds``."""

    def __init__(self, work: Callable, processes: int | None = None, *, stall_seconds: float = 60):
        self.work = work
        self.processes = processes if processes is not None else (os.cpu_count() or 1)
        self.stall_seconds = stall_seconds
        self._workers: children.Workers | None = None

    def __enter__(self) -> Pool:
        if self.processes > 1:
            try:
                self._workers = children.Workers(
                    self.processes, self.work, stall_seconds=self.stall_seconds
                )
            except OSError:  # out of processes or pipes: one core still does the job
                self.processes = 1
        return self

    def __exit__(self, *exc) -> None:
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    def answers(self, batches: Iterable[list[Row]]) -> Iterator[tuple]:
        pending: deque = deque()
        for batch in batches:
            pending.append((batch, self._submit(batch)))
            if len(pending) > 1:
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    def _submit(self, batch: list[Row]) -> list:
        numbers = [number for number, _ in batch]
        rows = [cells for _, cells in batch]
        if self._workers is None or len(batch) < _POOL_THRESHOLD:
            return [children.Done(self.work((numbers, rows)))]
        # marshal, not pickle, for the rows (lists of strings): per million rows 0.3 s here
        # and 1.6 s in the children to load, against 1.4 and 3.2 s.
        size = -(-len(batch) // (self.processes * 2))
        return [
            self._workers.submit(marshal.dumps((numbers[i : i + size], rows[i : i + size])))
            for i in range(0, len(batch), size)
        ]

    def _collect(self, batch: list[Row], jobs: list) -> tuple:
        answer = None
        for job in jobs:
            part = job.get()
            if answer is None:
                answer = part
                continue
            for whole, more in zip(answer, part, strict=True):
                if type(whole) is list:
                    whole += more
                else:
                    for key, count in more.items():
                        whole[key] = whole.get(key, 0) + count
        return (batch, *answer)


@contextmanager
def frozen_heap():
    """While inside, the collector's full passes skip the objects alive on entering (Django's,
    phonenumbers' metadata: ~165,000): an import allocates millions of short-lived objects,
    and each of the ~23 full passes of a million-row import walked them all, 3.2 s of the
    import process's CPU (0.6 s frozen). Objects frozen by someone else stay frozen."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()
