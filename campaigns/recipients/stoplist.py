"""The workspace stop list: the opted-out contacts, which never receive a message (checked at
import and at send). Numbers are added here by hand or from a file."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from contacts import book
from core import phones
from core.columns import detect_phone_column
from core.tables.table import Table

_BATCH = 5_000


@dataclass(frozen=True)
class StopListUpload:
    added: int  # numbers new to the stop list
    already: int  # valid numbers that were on it already
    invalid: list[int]  # row numbers whose phone cell is not a valid number


def add_numbers(workspace, numbers: list[str], note: str = "") -> int:
    """Opts E.164 numbers out; returns how many were new. Numbers already out are left alone."""
    return book.opt_out(workspace, numbers, note=note)


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
