"""The workspace stop list: the opted-out contacts, which never receive a message (checked at
import and at send). Numbers are added here by hand or from a file."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from django.db import transaction

from contacts import book
from contacts.models import OptOutSource
from core import phones
from core.columns import detect_phone_column
from core.tables.table import Table

_BATCH = 5_000


@dataclass(frozen=True)
class StopListUpload:
    added: int  # numbers new to the stop list
    already: int  # valid numbers that were on it already
    invalid: list[int]  # row numbers whose phone cell is not a valid number


def add_numbers(workspace, numbers: list[str], note: str = "", *, actor) -> int:
    """Opts E.164 numbers out, typed on the page by ``actor``; returns how many were new.
    Numbers already out are left alone."""
    return book.opt_out(workspace, numbers, actor=actor, where="page", note=note)


@transaction.atomic
def add_from_table(workspace, table: Table, note: str = "", *, actor) -> StopListUpload:
    """Adds every valid number of the table's phone column (found as the import finds it),
    in one transaction recorded as one audit event: how many (not the file's name, which
    may hold a number)."""
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
            new = book.mark_opted_out(workspace, unique, source=OptOutSource.MANUAL, note=note)
            added += new
            already += len(unique) - new
    book.record_opt_out(workspace, actor, added, "file")
    return StopListUpload(added, already, invalid)
