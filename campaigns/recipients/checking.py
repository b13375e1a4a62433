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

Children are forked by core.checking.Pool (shared with the contact import, as are the Tally and
the frozen heap) and each keeps its own bounded cache of verdicts.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass

from campaigns.models import references
from campaigns.recipients.bulk import FieldsEncoder
from core import phones
from core.checking import Pool, Tally, frozen_heap
from core.rejections import Code, RejectedRow, Rejection
from core.tables.table import Row

_CACHE_LIMIT = 20_000  # verdicts a child keeps (~5 MB); repeated cells are usually near
IN_CAMPAIGN = Rejection(Code.DUPLICATE_IN_CAMPAIGN)
STOP_LISTED = Rejection(Code.STOP_LISTED)
# The pool, tally and frozen heap are core.checking's, named here as before.
__all__ = ["Checker", "Lines", "Pool", "Rules", "Tally", "frozen_heap", "missing"]


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
