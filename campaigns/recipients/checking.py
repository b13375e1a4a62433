"""The per-row work of a recipient import, done on every core: each validating child turns its
share of a batch's rows into finished lines of COPY text (see bulk.MessageWriter), and the
import's process keeps only what needs every row before it: which number came first.

A child gets the rows' numbers and cells and answers, for each row, a key: the E.164 digits
(an int) of a row it would accept, the same negated for a valid number whose row misses a
placeholder, or the Rejection of any other row (invalid, a country not allowed, already in
the campaign, stop-listed); then the lines of the rows it would accept, in order (all but
the reference), and how many of those each country has. The import's process walks the keys:
the first row of a number is accepted, a later one is a duplicate of it (its line dropped, its
country counted back), and a row missing a placeholder is a duplicate if its number came
before, as when one process checked every row (``Checker``); then it puts the references in
front, sorted by batch. When the children took the phone cells only and the import's process
built the lines, that process took 14.3-15.3 s of CPU for a million rows (bench/import.py on
PostgreSQL, load 7-10), the children 4.8-5.4 s; now 6.6-8.4 s and 8.4-10.1 s, about 3 s less for
the two together, medians (docs/architecture.md, "Importing a million recipients").

Children are forked as core.children.Workers (they cannot hang the import; a lost one raises
ChildLost) and each keeps its own bounded cache of verdicts. A batch too small for the pool is
worked in this process, by the same code.
"""

from __future__ import annotations

import gc
import marshal
import os
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from campaigns.models import references
from campaigns.recipients.bulk import FieldsEncoder
from core import children, phones
from core.rejections import Code, RejectedRow, Rejection
from core.tables.table import Row

_CACHE_LIMIT = 20_000  # verdicts a child keeps (~5 MB); repeated cells are usually near
_POOL_THRESHOLD = 2_000  # rows: below this a batch is worked here, the pool costs more
IN_CAMPAIGN = Rejection(Code.DUPLICATE_IN_CAMPAIGN)
STOP_LISTED = Rejection(Code.STOP_LISTED)


def missing(cells: list[str], required: list[tuple[str, int]]) -> str | None:
    """The first placeholder whose cell is empty in this row, or None."""
    for name, index in required:
        if index >= len(cells) or not cells[index].strip():
            return name
    return None


@dataclass
class Rules:
    """What a row is checked against, apart from the rows before it: given to the children
    as they fork. ``names`` are the placeholders and their columns, ``required`` those a row
    must fill, ``existing`` the campaign's numbers (adding), ``stop`` the stop list, ``tail``
    what ends a line (bulk.MessageWriter.tail)."""

    default_country: str
    allowed: frozenset[str] | None
    column: int
    names: dict[str, int]
    required: list[tuple[str, int]]
    existing: set[str]
    stop: set[str]
    tail: str


class Lines:
    """A child's work: ``(numbers, rows)`` -> ``(keys, lines, by_country)`` (module docstring)."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.encode = FieldsEncoder(rules.names)
        self._cache: dict[str, phones.Verdict] = {}

    def __call__(self, share: bytes | tuple[list[int], list[list[str]]]) -> tuple[list, list, dict]:
        if type(share) is bytes:
            share = marshal.loads(share)
        rules, encode, cache = self.rules, self.encode, self._cache
        column, existing, stop, required, tail = (
            rules.column,
            rules.existing,
            rules.stop,
            rules.required,
            rules.tail,
        )
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        keys: list = []
        lines: list[str] = []
        by_country: dict[str, int] = {}
        for number, cells in zip(*share, strict=True):
            raw = cells[column] if column < len(cells) else ""
            verdict = cache.get(raw)
            if verdict is None:
                verdict = cache[raw] = phones.verdict(raw, rules.default_country, rules.allowed)
            if type(verdict) is not tuple:
                keys.append(verdict)
                continue
            e164, region, kind = verdict
            if e164 in existing:
                keys.append(IN_CAMPAIGN)
            elif e164 in stop:
                keys.append(STOP_LISTED)
            elif required and missing(cells, required):
                keys.append(-int(e164[1:]))
            else:
                keys.append(int(e164[1:]))
                by_country[region] = by_country.get(region, 0) + 1
                lines.append(f"\t{e164}\t{region}\t{kind}\t{number}\t{encode(cells)}{tail}")
        return keys, lines, by_country


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


class Checker:
    """The import's side: the numbers accepted so far (the first row of each) and the tally.
    ``check`` finishes a batch from its children's answers: the lines of the rows accepted,
    and report rows for the others."""

    def __init__(self, rules: Rules):
        self.rules = rules
        # The digits of each E.164 number accepted -> its row: an int takes half the memory
        # of the string, which a million-row file notices.
        self.seen: dict[int, int] = {}
        self.tally = Tally()

    def check(
        self, batch: list[Row], keys: list, lines: list[str], by_country: dict[str, int]
    ) -> tuple[list[str], list[RejectedRow]]:
        seen, column = self.seen, self.rules.column
        rejected: list[RejectedRow] = []
        dropped: list[int] = []
        line = 0
        # The hot loop of a million-row import: a new number is accepted in three steps.
        for key, (number, cells) in zip(keys, batch, strict=True):
            if type(key) is int and key > 0:
                first = seen.setdefault(key, number)
                line += 1
                if first is number:
                    continue
                dropped.append(line - 1)
                rejection = Rejection(Code.DUPLICATE_IN_FILE, str(first))
            else:
                rejection = self._rejection(key, cells)
            self.tally.reject(rejection.code)
            phone = cells[column] if column < len(cells) else ""
            rejected.append(RejectedRow(number, phone, rejection, cells))
        for index in reversed(dropped):
            by_country[lines[index].split("\t", 3)[2]] -= 1
            del lines[index]
        counts = self.tally.by_country
        for region, count in by_country.items():
            if count:
                counts[region] = counts.get(region, 0) + count
        self.tally.accepted += len(lines)
        # Sorted, the references of a batch grow as those of successive batches do: the
        # unique index then grows at its end, several times faster.
        fresh = references(len(lines))
        fresh.sort()
        return list(map(str.__add__, fresh, lines)), rejected

    def _rejection(self, key, cells: list[str]) -> Rejection:
        if type(key) is not int:
            return key
        if (first := self.seen.get(-key)) is not None:
            return Rejection(Code.DUPLICATE_IN_FILE, str(first))
        return Rejection(Code.MISSING_PLACEHOLDER, "{" + missing(cells, self.rules.required) + "}")


class Pool:
    """The children working ``Lines`` on ``processes`` cores (all by default). Use as a
    context manager: entering forks them (do it while this process is small: forked after a
    workbook is loaded, each would carry the sheet too), leaving stops them. ``answers``
    gives, for each batch of rows, ``(batch, keys, lines, by_country)`` in order, the next
    batch being worked while the caller finishes this one. Raises children.ChildLost when a
    child dies, or owes an answer for ``stall_seconds``."""

    def __init__(self, work: Lines, processes: int | None = None, *, stall_seconds: float = 60):
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

    def answers(self, batches: Iterable[list[Row]]) -> Iterator[tuple[list[Row], list, list, dict]]:
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

    def _collect(self, batch: list[Row], jobs: list) -> tuple[list[Row], list, list, dict]:
        keys, lines, by_country = [], [], {}
        for job in jobs:
            some_keys, some_lines, counts = job.get()
            keys += some_keys
            lines += some_lines
            for region, count in counts.items():
                by_country[region] = by_country.get(region, 0) + count
        return batch, keys, lines, by_country


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
