"""Why a recipient row was not imported: stable codes, plain reasons, and the report CSV.

The codes are stored (``Code.choices`` for model fields) and appear in the downloadable report,
so they never change meaning.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from django.db import models


class Code(models.TextChoices):
    # The phone cell is blank or whitespace.
    EMPTY = "empty", "Empty phone"
    # The cell holds text phonenumbers cannot read as a number at all.
    NOT_A_NUMBER = "not_a_number", "Not a phone number"
    # A number, but not one that exists in its country's numbering plan.
    INVALID_FOR_COUNTRY = "invalid_for_country", "Invalid for its country"
    # Same E.164 number as an earlier row of this file; the first row is kept.
    DUPLICATE_IN_FILE = "duplicate_in_file", "Duplicate in the file"
    # The campaign already has a message for this number.
    DUPLICATE_IN_CAMPAIGN = "duplicate_in_campaign", "Already in the campaign"
    # The workspace's stop list holds the number.
    STOP_LISTED = "stop_listed", "On the stop list"
    # A valid number in a country the provider account may not send to.
    COUNTRY_NOT_ALLOWED = "country_not_allowed", "Country not allowed"
    # The message uses a {placeholder} whose cell is empty in this row.
    MISSING_PLACEHOLDER = "missing_placeholder", "Missing placeholder value"
    # Contact imports: a cell that does not fit its field's kind (a number, a date, a choice).
    BAD_VALUE = "bad_value", "Value does not fit its field"
    # Contact imports: the same E.164 number appears again later in the file; the later row
    # is the one imported.
    REPLACED_IN_FILE = "replaced_in_file", "Replaced by a later row"


# One sentence a marketing person understands. ``{detail}`` is filled from Rejection.detail.
REASONS: dict[Code, str] = {
    Code.EMPTY: "The phone cell is empty.",
    Code.NOT_A_NUMBER: "This is not a phone number.",
    Code.INVALID_FOR_COUNTRY: "This is not a valid phone number for {detail}.",
    Code.DUPLICATE_IN_FILE: "The same number appears earlier in the file (row {detail}); "
    "only the first one is kept.",
    Code.DUPLICATE_IN_CAMPAIGN: "The campaign already has this number.",
    Code.STOP_LISTED: "The number is on your stop list.",
    Code.COUNTRY_NOT_ALLOWED: "The account may not send to {detail}.",
    Code.MISSING_PLACEHOLDER: "The message needs {detail}, which is empty in this row.",
    Code.BAD_VALUE: "{detail}",
    Code.REPLACED_IN_FILE: "The same number appears again in row {detail}; that later row "
    "is the one imported.",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that will not become a message: ``code`` plus the specifics the reason names
    (a country, an earlier row number, a placeholder), already human-readable."""

    code: Code
    detail: str = ""

    @property
    def reason(self) -> str:
        return REASONS[self.code].format(detail=self.detail)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One line of the rejection report: where the row was, what it held and why it failed."""

    number: int
    phone: str
    rejection: Rejection
    cells: Sequence[str] = ()


BOM = "\ufeff"
# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number in E.164: a plus and up to 15 digits, the first not 0. Read as a number at
# worst, never as a formula, so it is written as it is.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def defuse(value: str) -> str:
    """Return ``value`` so that Excel, LibreOffice and Sheets show it as text, never run it:
    an apostrophe before a cell that starts like a formula, unless it is an E.164 number."""
    if value.startswith(_FORMULA_STARTS) and not _E164.fullmatch(value):
        return "'" + value
    return value


def write_rejections_csv(
    rows: Iterable[RejectedRow], file: TextIO, columns: Sequence[str] = (), *, header: bool = True
) -> int:
    """Write the report (row, phone, code, reason, then the original cells under ``columns``)
    to ``file`` opened with ``newline=""``; return the number of rows written. The header
    starts with a byte order mark: Excel on Windows reads a CSV as UTF-8 (Cyrillic names,
    say) only with it.

    Every cell is defused, so "+77011234567" reads "'+77011234567": the report is opened in
    Excel by people who did not write it, and a phone column is the classic injection spot.
    """
    writer = csv.writer(file)
    if header:  # a report written batch by batch has its header written once, first
        file.write(BOM)
        writer.writerow(["row", "phone", "code", "reason", *(defuse(c) for c in columns)])
    written = 0
    for row in rows:
        writer.writerow(
            [
                row.number,
                defuse(row.phone),
                row.rejection.code.value,
                defuse(row.rejection.reason),
                *(defuse(cell) for cell in row.cells),
            ]
        )
        written += 1
    return written


def _undefused(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        return value[1:]
    return value


def read_rejections(file, offset: int = 0, limit: int = 1000) -> list[dict]:
    """Rows ``offset`` to ``offset + limit`` of a report written by write_rejections_csv, as
    {"row", "value", "code", "reason"} (the API's rejected rows), cells as they were given."""
    with file.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        next(reader, None)  # the header
        rows = []
        for cells in itertools.islice(reader, offset, offset + limit):
            if len(cells) < 4:
                continue
            rows.append(
                {
                    "row": int(cells[0]),
                    "value": _undefused(cells[1]),
                    "code": cells[2],
                    "reason": _undefused(cells[3]),
                }
            )
    return rows


def redact(path: str, is_it: Callable[[str], bool], stand_in: str) -> int:
    """Rewrites the report at ``path`` (write_rejections_csv's) with each row whose phone
    ``is_it`` names given ``stand_in`` for its phone and blanks for its other cells (an
    erasure's); returns how many rows. Read and written row by row (a report may hold a
    million rows) beside it, then moved into its place, so a reader sees the old report or
    the new one; left as it was when no row matches."""
    redacted = 0
    if not os.path.exists(path):  # deleted from the storage by hand: nothing left to redact
        return 0
    with (
        open(path, encoding="utf-8-sig", newline="") as old,
        open(path + ".redacting", "w", encoding="utf-8", newline="") as new,
    ):
        new.write(BOM)
        writer = csv.writer(new)
        for number, cells in enumerate(csv.reader(old)):
            if number and len(cells) >= 4 and is_it(_undefused(cells[1])):
                cells[1] = stand_in
                cells[4:] = [""] * len(cells[4:])
                redacted += 1
            writer.writerow(cells)
    if redacted:
        os.replace(path + ".redacting", path)
    else:
        os.remove(path + ".redacting")
    return redacted
