"""The per-row work of a contact import, done on every core: each checking child turns its
share of a batch's rows into what the writer stores (contacts.upsert), and the import's process
keeps only what needs every row before it: which row of a number is the last.

A child gets the rows' numbers and cells and answers, for each row, a key: the E.164 digits
(an int) of a row it would accept, or the Rejection of any other row (a number that is not
valid, a cell that does not fit its field); then, for each row it would accept, in order, its
``line``: the row as a line of the rows table's COPY text on PostgreSQL (upsert.copy_line,
"not seen before"), the record itself on SQLite (the spool keeps records); into a new book on
PostgreSQL also its line of COPY straight into the contacts (upsert.contact_line); and how
many of those rows each country has. The import's process walks the keys: a number seen again
replaces its earlier row (the last one wins); the earlier row goes into the report, its line
dropped when it is in this batch, and the later row's line is sent as a repeat when an earlier
batch wrote the number (``Checked.again``), as when one process checked every row
(tests/contacts/test_import_checking.py keeps that process as the oracle).

Before, the import's process built every record and line itself: 19-28 s of CPU a million rows
(bench/contacts_import.py), the pace of the whole import (docs/architecture.md, "Importing a
million contacts").
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring

from contacts import upsert, values
from core import phones
from core.checking import Tally
from core.rejections import Code, RejectedRow, Rejection
from core.tables.table import Row

_CACHE_LIMIT = 20_000  # verdicts a child keeps (~5 MB); repeated cells are usually near
_CONVERTERS = {
    "language": values.language,
    "time_zone": values.time_zone,
    "opted_out": values.opted_out,
}


@dataclass
class Rules:
    """What a row is checked against and made into, apart from the rows before it: given to
    the children as they fork. The columns of the name, of the language, time zone and
    opt-out (``extras``: attribute -> (column, convert, label)) and of the custom fields by
    kind, so that the common ones need no call: ``texts`` (column, key as JSON), ``numbers``
    and ``others`` (column, key as JSON, label, convert). ``records``: the writer takes the
    records (SQLite); else lines of COPY text, and ``contact_line`` makes a record's line
    into the contacts when the writer COPYs a new book's contacts straight in."""

    default_country: str
    column: int
    width: int
    name: int | None = None
    extras: dict[str, tuple[int, Callable, str]] = field(default_factory=dict)
    texts: list[tuple[int, str]] = field(default_factory=list)
    numbers: list[tuple[int, str, str, Callable]] = field(default_factory=list)
    others: list[tuple[int, str, str, Callable]] = field(default_factory=list)
    records: bool = False
    contact_line: Callable[[tuple], str] | None = None


def rules(imp, target: upsert.Target, writer) -> Rules:
    """The rules of an import's mapping into ``target``, for ``writer``'s input."""
    found = Rules(
        default_country=imp.workspace.default_country,
        column=imp.phone_column,
        width=len(imp.mapping),
        records=writer.takes_records,
        contact_line=writer.contact_line_maker(),
    )
    for index, mapped in enumerate(imp.mapping):
        kind, _, key = mapped.partition(":")
        if kind in ("field", "new"):
            f = target.fields[key]
            convert = values.field_converter(f)
            if convert is values.text:
                found.texts.append((index, upsert.json_key(key)))
            else:
                kinds = found.numbers if convert is values.number else found.others
                kinds.append((index, upsert.json_key(key), f.label, convert))
        elif kind == "name":
            found.name = index
        elif kind in _CONVERTERS:
            found.extras[kind] = (index, _CONVERTERS[kind], _label(imp, index))
    return found


def _label(imp, index: int | None) -> str:
    if index is None:
        return ""
    return imp.columns[index] or f"column {index + 1}"


class Records:
    """Makes a checked row into an upsert.Record (a plain tuple in its order)."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.zones = values.Zones()

    def __call__(self, number: int, cells: list[str], e164: str, region: str, kind: str):
        """The row as a Record; raises values.BadValue for a cell that does not fit."""
        rules = self.rules
        if len(cells) < rules.width:
            cells = cells + [""] * (rules.width - len(cells))
        name = cells[rules.name].strip()[:200] or None if rules.name is not None else None
        language = time_zone = None
        opted_out = False
        if rules.extras:
            language, time_zone, opted_out = self._extras(cells)
        parts = []
        for index, key in rules.texts:
            if (cell := cells[index]) and (cell := cell.strip()):
                parts.append(key + encode_basestring(cell[: values.TEXT_LIMIT]))
        for index, key, label, convert in rules.numbers:
            if (cell := cells[index]) and (cell := cell.strip()):
                if cell.isdigit() and cell.isascii() and len(cell) < 16 and cell[0] != "0":
                    parts.append(key + cell)  # as JSON writes it: no call needed
                else:
                    parts.append(key + upsert.json_value(convert(cell, label)))
        for index, key, label, convert in rules.others:
            if (cell := cells[index]) and (cell := cell.strip()):
                parts.append(key + upsert.json_value(convert(cell, label)))
        # A plain tuple in Record's order: a million NamedTuple calls cost a second.
        return (
            e164,
            region,
            self.zones(e164, region, kind),
            name,
            language,
            time_zone,
            opted_out,
            "{" + ",".join(parts) + "}",
            number,
        )

    def _extras(self, cells: list[str]) -> tuple[str | None, str | None, bool]:
        """The language, time zone and opt-out a row gives, when the mapping has them."""
        given = {}
        for attribute, (index, convert, label) in self.rules.extras.items():
            cell = cells[index].strip()
            given[attribute] = convert(cell, label) if cell else None
        return given.get("language"), given.get("time_zone"), bool(given.get("opted_out"))


class Lines:
    """A child's work: ``(numbers, rows)`` -> ``(keys, lines, contacts, by_country)`` (module
    docstring)."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.record = Records(rules)
        self._cache: dict[str, phones.Verdict] = {}

    def __call__(self, share: bytes | tuple[list[int], list[list[str]]]) -> tuple:
        if type(share) is bytes:
            share = marshal.loads(share)
        rules, record, cache = self.rules, self.record, self._cache
        column, country = rules.column, rules.default_country
        copy_line, contact_line = upsert.copy_line, rules.contact_line
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        keys: list = []
        lines: list = []
        contacts: list[str] = []
        by_country: dict[str, int] = {}
        for number, cells in zip(*share, strict=True):
            raw = cells[column] if column < len(cells) else ""
            verdict = cache.get(raw)
            if verdict is None:
                verdict = cache[raw] = phones.verdict(raw, country)
            if type(verdict) is not tuple:
                keys.append(verdict)
                continue
            e164, region, kind = verdict
            try:
                made = record(number, cells, e164, region, kind)
            except values.BadValue as bad:
                keys.append(Rejection(Code.BAD_VALUE, str(bad)))
                continue
            keys.append(int(e164[1:]))
            by_country[region] = by_country.get(region, 0) + 1
            if rules.records:
                lines.append(made)
                continue
            lines.append(copy_line(made))
            if contact_line is not None:
                contacts.append(contact_line(made))
        return keys, lines, contacts, by_country


@dataclass
class Checked:
    """A batch ready for the writer: ``lines`` (and ``contacts``, the same rows' lines into
    the contacts when the writer takes them) of the numbers no earlier batch wrote, ``again``
    those of the numbers an earlier batch wrote (the rows table's lines say so)."""

    lines: list
    again: list
    contacts: list[str]


class Checker:
    """The import's side: the numbers accepted so far (``seen``, the digits of each -> its
    last row: an int takes half the memory of the string) and the tally. ``check`` finishes a
    batch from its children's answers."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.seen: dict[int, int] = {}
        self.tally = Tally()

    def check(
        self, batch: list[Row], keys: list, lines: list, contacts: list[str], by_country: dict
    ) -> tuple[Checked, list[RejectedRow]]:
        seen, tally = self.seen, self.tally
        rejected: list[RejectedRow] = []
        here: dict[int, tuple[int, list[str]]] = {}  # digits -> (line, cells) in this batch
        dropped: list[int] = []  # lines replaced by a later row of this batch
        again: set[int] = set()  # lines of numbers an earlier batch wrote
        line = -1
        # The hot loop of a million-row import: a new number is accepted in four steps.
        for key, (number, cells) in zip(keys, batch, strict=True):
            if type(key) is not int:
                rejected.append(self._rejected(number, cells, key))
                continue
            line += 1
            earlier = seen.get(key)
            seen[key] = number
            if earlier is not None:
                replaced = Rejection(Code.REPLACED_IN_FILE, str(number))
                if (mine := here.get(key)) is not None:
                    at, earlier_cells = mine
                    rejected.append(self._rejected(earlier, earlier_cells, replaced))
                    dropped.append(at)
                    if at in again:
                        again.add(line)
                else:  # read in an earlier batch, whose cells are gone
                    rejected.append(RejectedRow(earlier, f"+{key}", replaced))
                    tally.reject(Code.REPLACED_IN_FILE)
                    again.add(line)
                by_country[self._region(lines[line])] -= 1  # counted with its first row
            here[key] = (line, cells)
        tally.accepted = len(seen)  # each number once, whichever row of it is the last
        return self._checked(lines, contacts, dropped, again, by_country), rejected

    def _region(self, line) -> str:
        return line[1] if self.rules.records else line.split("\t", 2)[1]

    def _checked(self, lines, contacts, dropped, again, by_country) -> Checked:
        counts = self.tally.by_country
        for region, count in by_country.items():
            if count:
                counts[region] = counts.get(region, 0) + count
        if not dropped and not again:
            return Checked(lines, [], contacts)
        skip = again.union(dropped)
        kept = [i for i in range(len(lines)) if i not in skip]
        repeats = sorted(again.difference(dropped))
        if self.rules.records:
            repeated = [lines[i] for i in repeats]
        else:  # the rows table's line says the number repeats an earlier batch's
            repeated = [lines[i][:-2] + "t\n" for i in repeats]
        return Checked(
            [lines[i] for i in kept], repeated, [contacts[i] for i in kept] if contacts else []
        )

    def _rejected(self, number: int, cells: list[str], rejection: Rejection) -> RejectedRow:
        self.tally.reject(rejection.code)
        column = self.rules.column
        phone = cells[column] if column < len(cells) else ""
        return RejectedRow(number, phone, rejection, cells)
