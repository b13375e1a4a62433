"""The workspace stop list: numbers that never receive a message, checked at import and send."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from campaigns.models import StopListEntry
from campaigns.recipients import phones
from campaigns.recipients.columns import detect_phone_column
from core.tables.table import Table

_BATCH = 5_000


@dataclass(frozen=True)
class StopListUpload:
    added: int  # numbers new to the stop list
    already: int  # valid numbers that were on it already
    invalid: list[int]  # row numbers whose phone cell is not a valid number


def add_numbers(workspace, numbers: list[str], note: str = "") -> int:
    """Adds E.164 numbers; returns how many were new. Numbers already listed are left alone."""
    before = StopListEntry.objects.filter(workspace=workspace).count()
    StopListEntry.objects.bulk_create(
        [StopListEntry(workspace=workspace, phone=phone, note=note) for phone in numbers],
        ignore_conflicts=True,
        batch_size=_BATCH,
    )
    return StopListEntry.objects.filter(workspace=workspace).count() - before


def add_from_table(workspace, table: Table, note: str = "") -> StopListUpload:
    """Adds every valid number of the table's phone column (found as the import finds it)."""
    column = detect_phone_column(table.columns, table.preview(10), workspace.default_country)
    if column is None:
        column = 0
    added = already = 0
    invalid: list[int] = []
    rows = iter(table)
    with phones.Normaliser(workspace.default_country) as normaliser:
        while batch := list(islice(rows, _BATCH)):
            cells = [row.cells[column] if column < len(row.cells) else "" for row in batch]
            valid = []
            for row, result in zip(batch, normaliser.normalise_many(cells), strict=True):
                if isinstance(result, phones.Normalised):
                    valid.append(result.e164)
                else:
                    invalid.append(row.number)
            unique = list(dict.fromkeys(valid))
            new = add_numbers(workspace, unique, note)
            added += new
            already += len(unique) - new
    return StopListUpload(added, already, invalid)
