"""A table being read: its rows, the options that bound the reading, and the refusal raised
when the file as a whole cannot be read. Shared by the CSV reader and the workbook reader."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import NamedTuple

MiB = 1024 * 1024


class ImportRejected(Exception):
    """The file as a whole cannot be imported; ``message`` tells the user why and what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file. ``None`` means detect. ``sheet`` is a name or 0-based index."""

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str = '"'
    has_header: bool | None = None
    sheet: str | int | None = None
    max_rows: int = 2_000_000
    max_columns: int = 100
    max_bytes: int = 50 * MiB
    max_row_chars: int = MiB  # a CSV record, line ends included: one line is never read whole
    max_unzipped_bytes: int = 2048 * MiB  # declared total of an XLSX's parts
    max_zip_ratio: int = 100  # declared uncompressed/compressed, for parts over 1 MiB


class Row(NamedTuple):
    """One data row: ``number`` as the user sees it, ``cells`` as text (padded to the header
    width; a row wider than the header keeps its extra cells)."""

    number: int
    cells: list[str]


@dataclass
class Table:
    """A file being read. Iterate it once for the data rows (the header is not among them).

    ``encoding`` and ``delimiter`` say what detection chose, so the form can show them.
    """

    columns: list[str]
    has_header: bool
    _rows: Iterator[Row]
    _buffer: list[Row] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    _resources: ExitStack = field(default_factory=ExitStack)  # closed with the table

    def preview(self, n: int = 10) -> list[Row]:
        """The first ``n`` data rows, without consuming them."""
        if len(self._buffer) < n:
            self._buffer.extend(islice(self._rows, n - len(self._buffer)))
        return self._buffer[:n]

    def __iter__(self) -> Iterator[Row]:
        buffered, self._buffer = self._buffer, []
        return chain(buffered, self._rows)

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def unreadable(kind: str) -> ImportRejected:
    return ImportRejected(
        "unreadable",
        f"The file could not be read as {kind}; it may be damaged or password-protected. "
        "Open it in Excel and save it again, or export it as CSV.",
    )


def make_table(
    numbered: Iterator[tuple[int, list[str]]],
    options: ReadOptions,
    *,
    encoding: str | None,
    delimiter: str | None,
) -> Table:
    """The Table of numbered rows of text cells, whatever they were read from: the header
    detected (unless ``options`` say), the columns named, the row and column caps enforced
    as the rows stream."""
    numbered = iter(numbered)
    head = _head(numbered, options)
    if not head:
        raise ImportRejected("empty", "The file has no rows.")
    has_header = options.has_header
    if has_header is None:
        has_header = is_header(head[0][1], [cells for _, cells in head[1:]])
    width = max(len(_trim(cells)) for _, cells in head)
    if has_header:
        width = max(width, len(_trim(head[0][1])))
        columns = [c.strip() or f"Column {i}" for i, c in enumerate(_pad(head[0][1], width), 1)]
        head = head[1:]
    else:
        columns = [f"Column {i}" for i in range(1, width + 1)]
    if width > options.max_columns:
        raise too_many_columns(width, options)
    rows = _capped(chain(head, numbered), len(columns), options)
    return Table(columns, has_header, rows, encoding=encoding, delimiter=delimiter)


def _head(numbered: Iterator[tuple[int, list[str]]], options: ReadOptions) -> list:
    """The first 11 rows with something in them (the rest is filtered as it streams), each
    within the column cap: a first row of a million cells is refused before ten more like it
    are read."""
    head = []
    for number, cells in numbered:
        if not _has_text(cells):
            continue
        if len(cells) > options.max_columns and len(_trim(cells)) > options.max_columns:
            raise too_many_columns(len(_trim(cells)), options)
        head.append((number, cells))
        if len(head) == 11:
            break
    return head


def _has_text(cells: list[str]) -> bool:
    # Rows with nothing at all in them are layout, not recipients.
    return bool(cells and cells[0].strip()) or bool("".join(cells).strip())


def _capped(numbered, width: int, options: ReadOptions) -> Iterator[Row]:
    # Every row of a file passes here: the checks of _has_text and _pad are inlined.
    max_rows, max_columns = options.max_rows, options.max_columns
    count = 0
    for number, cells in numbered:
        if not (cells and cells[0].strip()) and not "".join(cells).strip():
            continue
        count += 1
        if count > max_rows:
            raise ImportRejected(
                "too_many_rows",
                f"The file has more than {max_rows:,} rows. Split it into smaller files.",
            )
        length = len(cells)
        if length < width:
            cells += [""] * (width - length)
        elif length > max_columns and len(_trim(cells)) > max_columns:
            raise too_many_columns(len(_trim(cells)), options, number)
        yield _new_row(Row, (number, cells))


def too_many_columns(width: int, options: ReadOptions, row: int | None = None):
    where = f"Row {row} has" if row else "The file has"
    return ImportRejected(
        "too_many_columns",
        f"{where} {width} columns; the limit is {options.max_columns}. "
        "Delete the columns you do not need and upload it again.",
    )


def _trim(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _pad(cells: list[str], width: int) -> list[str]:
    return cells + [""] * (width - len(cells)) if len(cells) < width else cells


_new_row = tuple.__new__  # Row's own __new__ without the Python-level call, per row


_PHONE_LIKE = re.compile(r"[\s\d+\-().]*")


def looks_like_phone(cell: str) -> bool:
    return sum(ch.isdigit() for ch in cell) >= 5 and bool(_PHONE_LIKE.fullmatch(cell.strip()))


def is_header(first: list[str], following: list[list[str]]) -> bool:
    """A first row is a header when it names a phone column, or when it has no phone-like
    cell while a later row does."""
    if any(header_key(c) in PHONE_HEADERS for c in first):
        return True
    if any(looks_like_phone(c) for c in first):
        return False
    return any(looks_like_phone(c) for row in following for c in row)


PHONE_HEADERS = frozenset(
    {
        "phone", "phones", "phonenumber", "phoneno", "number", "msisdn", "recipient",
        "recipients", "mobile", "mobilephone", "mobilenumber", "tel", "telephone", "cell",
        "cellphone", "телефон", "номер", "номертелефона", "мобильный", "telefone", "telefono",
        "numer", "celular", "whatsapp",
    }
)  # fmt: skip


def header_key(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.casefold())
