"""Tables from CSV/TXT, XLSX, legacy XLS or pasted text, as numbered rows of text: recipient
lists (campaigns.recipients) and rate cards (providers.rates) are both read here.

``open_table`` checks a file before parsing it (size, type, zip bomb, XML entities), then
streams it: CSV is decoded incrementally, spreadsheets go through python-calamine in a child
process (see workbooks.py). Anything wrong with the file as a whole raises
``ImportRejected`` with a message for the user; problems with single rows are not this
module's business (see campaigns.recipients).

Row numbers are the ones the user sees: 1-based, counting the header, the first physical line
for a CSV record with quoted newlines, the spreadsheet row for XLSX/XLS.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import BinaryIO

import charset_normalizer

from core.tables.table import (
    ImportRejected,
    MiB,
    ReadOptions,
    Table,
    is_header,
    looks_like_phone,
    make_table,
)

# Codec name (as codecs.lookup spells it) -> the label the import form shows.
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1251": "WINDOWS-1251",
    "cp1252": "WINDOWS-1252",
    "koi8-r": "KOI8-R",
    "cp866": "CP866",
    "iso8859-1": "ISO-8859-1",
    "ascii": "ASCII",
}
DELIMITERS = (";", ",", "\t", "|")  # ties go to the first: Excel in most locales writes ";"
_SAMPLE = 64 * 1024


def open_table(
    source: BinaryIO | str | os.PathLike, *, filename: str, options: ReadOptions | None = None
) -> Table:
    """Open an uploaded file (a path or a seekable binary file) as a Table.

    The reader follows the extension of ``filename`` (.csv, .txt, .xlsx, .xls) and the content
    must agree with it. Raises ImportRejected for a file that is too large, empty, of another
    type than its name says, unreadable, a zip bomb, XML with entities, or (while iterating)
    over the row or column cap.
    """
    options = options or ReadOptions()
    with ExitStack() as resources:
        if isinstance(source, str | os.PathLike):
            path = os.fspath(source)
            stream = resources.enter_context(open(path, "rb"))
        else:
            path, stream = None, source  # the caller's to close
        table = _open_stream(stream, filename, options, path, resources)
        table._resources = resources.pop_all()
        return table


def read_pasted(text: str, options: ReadOptions | None = None) -> Table:
    """A Table from text pasted into the form: one number a line, numbers separated by commas
    or semicolons, or lines with columns (optionally under a header such as "phone;name")."""
    # Pasted text is in memory already, and numbers on one long line are one of its forms.
    options = replace(options or ReadOptions(), max_row_chars=len(text) + 1)
    size = len(text.encode())
    if size > options.max_bytes:
        raise _too_large(size, options)
    if not text.strip():
        raise ImportRejected("empty", "Nothing was pasted. Paste phone numbers, one a line.")
    sample = _pasted_sample(text)
    delimiter = options.delimiter or _sniff_delimiter(sample, options.quotechar)
    numbered = _csv_rows(io.StringIO(text, newline=""), delimiter, options)
    peek = _peek_rows(sample, delimiter, options.quotechar)
    if options.has_header is None and not is_header(peek[0], peek[1:]):
        cells = [c for row in peek for cell in row for c in _LIST_SPLIT.split(cell)]
        if all(looks_like_phone(c) for c in cells if c.strip()):
            # A list of numbers, however it was split: one recipient per number.
            numbered = (
                (n, [c.strip()])
                for n, row in numbered
                for cell in row
                for c in _LIST_SPLIT.split(cell)
                if c.strip()
            )
    return make_table(numbered, options, encoding=None, delimiter=delimiter)


_LIST_SPLIT = re.compile(r"[,;\t|]")


def _pasted_sample(text: str) -> str:
    """The first 50 lines within the first 64 KiB, ended between two cells: detection never
    reads a whole paste (csv refuses a field over 128 KiB) nor sees half a number."""
    sample = text[:_SAMPLE]
    if len(text) > _SAMPLE and (end := max(sample.rfind(c) for c in "\n,;\t|")) > 0:
        sample = sample[:end]
    return "\n".join(sample.splitlines()[:50])


# --- dispatch and guards ------------------------------------------------------------------

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _open_stream(
    stream: BinaryIO, filename: str, options: ReadOptions, path: str | None, resources: ExitStack
) -> Table:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > options.max_bytes:
        raise _too_large(size, options)
    head = stream.read(_SAMPLE)
    stream.seek(0)
    if not head:
        raise ImportRejected("empty", "The file is empty.")
    ext = os.path.splitext(filename)[1].lower()
    kind = _content_kind(head)
    if ext in (".xlsx", ".xls"):
        from core.tables import workbooks  # python-calamine only when a workbook comes

        if kind != ("zip" if ext == ".xlsx" else "ole"):
            raise _wrong_type(filename, kind)
        if ext == ".xlsx":
            workbooks.check_zip(stream, options)
        kind = ext[1:].upper()
        return workbooks.open_workbook(path or stream, options, resources, kind=kind)
    if ext in (".csv", ".txt", ""):
        if kind in ("zip", "ole"):
            raise _wrong_type(filename, kind)
        return _open_text(stream, head, options, resources)
    raise ImportRejected(
        "unsupported", f"{filename} is not a CSV, TXT, XLSX or XLS file. Save it as CSV or XLSX."
    )


def _content_kind(head: bytes) -> str:
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    if head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html", b"<table")):
        return "html"
    return "text"


_KIND_NAMES = {
    "zip": "an XLSX workbook (or another zip archive)",
    "ole": "a legacy Excel (XLS) workbook",
    "html": "a web page (some systems export HTML tables as .xls)",
    "text": "a text file",
}


def _wrong_type(filename: str, kind: str) -> ImportRejected:
    return ImportRejected(
        "wrong_type",
        f"{filename} is actually {_KIND_NAMES[kind]}, not what its name says. "
        "Open it in Excel and save it as XLSX or CSV, or rename it to match.",
    )


def _too_large(size: int, options: ReadOptions) -> ImportRejected:
    return ImportRejected(
        "too_large",
        f"The file is {size / MiB:.1f} MB; the limit is {options.max_bytes / MiB:.0f} MB. "
        "Split it into smaller files or remove unused columns.",
    )


# --- text ---------------------------------------------------------------------------------


def _open_text(stream: BinaryIO, head: bytes, options: ReadOptions, resources: ExitStack) -> Table:
    if options.encoding:
        encoding = codec_name(options.encoding)
    else:
        nul_free_ascii = head.isascii() and b"\x00" not in head
        encoding = detect_encoding(_first_non_ascii(stream) if nul_free_ascii else head)
    if b"\x00" in head and not encoding.startswith("utf-16"):
        raise ImportRejected(
            "wrong_type",
            "The file holds binary data, not text. Export it from its program as CSV or XLSX.",
        )
    try:
        sample = codecs.getincrementaldecoder(encoding)(errors="strict").decode(head)
    except UnicodeDecodeError as error:
        raise _bad_encoding(encoding, 1) from error
    if not sample.strip(" \r\n\t\ufeff,;|"):
        raise ImportRejected("empty", "The file has no rows.")
    delimiter = options.delimiter or _sniff_delimiter(sample, options.quotechar)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    # Closing a wrapper closes its stream, which may be the caller's: detach it instead.
    resources.callback(text.detach)
    rows = _csv_rows(text, delimiter, options, encoding)
    return make_table(rows, options, encoding=encoding, delimiter=delimiter)


def codec_name(label: str) -> str:
    """The codec for a label the form offers ("WINDOWS-1251", "cp1251", "UTF-8 with BOM")."""
    for codec, shown in ENCODINGS.items():
        if label == shown:
            return codec
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        codec = None
    if codec not in ENCODINGS:
        choices = ", ".join(ENCODINGS.values())
        raise ImportRejected("bad_encoding", f"Unknown encoding {label!r}; use one of {choices}.")
    return codec


_SCAN_LIMIT = 16 * MiB
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _first_non_ascii(stream: BinaryIO) -> bytes:
    """A sample from the line holding the first non-ASCII byte within the first 16 MiB, or
    b"" if there is none: exports often start with pages of plain digits and Latin text, and
    the encoding only shows in a name further down."""
    offset = 0
    try:
        while offset < _SCAN_LIMIT:
            chunk = stream.read(MiB)
            if not chunk:
                return b""
            if not chunk.isascii():
                index = _NON_ASCII.search(chunk).start()
                line_start = chunk.rfind(b"\n", 0, index) + 1
                stream.seek(offset + line_start)
                return stream.read(_SAMPLE)
            offset += len(chunk)
        return b""
    finally:
        stream.seek(0)


def detect_encoding(head: bytes) -> str:
    """Codec for a leading sample: a BOM wins, then strict UTF-8, then charset-normalizer
    choosing among ENCODINGS."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if utf16 := _utf16_without_bom(head):
        return utf16
    try:
        # The sample may end inside a multibyte character: decode incrementally, not final.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(
        head, cp_isolation=["cp1251", "cp1252", "koi8_r", "cp866", "latin_1"]
    ).best()
    if best is None:
        return "cp1252"
    return codecs.lookup(best.encoding).name


def _utf16_without_bom(head: bytes) -> str:
    """ "utf-16-le" or "-be" when the sample reads as UTF-16 without a BOM, else "". Digits,
    commas and line ends leave a zero byte beside each of them, all on one side: odd offsets
    for little-endian, even for big-endian (Cyrillic letters leave none, so the share of
    zeros alone says little)."""
    odd, even = head[1::2].count(0), head[::2].count(0)
    # A zero beside at least one character in five, and (nearly) all on one side.
    most = max(odd, even)
    if not most or most * 10 < len(head) or min(odd, even) * 10 > most:
        return ""
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    try:
        head[: len(head) // 2 * 2].decode(encoding)  # surrogates split at the end are rare
    except UnicodeDecodeError:
        return ""
    return encoding


def _bad_encoding(encoding: str, near_row: int) -> ImportRejected:
    label = ENCODINGS.get(encoding, encoding.upper())
    return ImportRejected(
        "bad_encoding",
        f"Row {near_row} is not valid {label} text. Choose the file's encoding in the form "
        "(Excel on Windows usually writes WINDOWS-1251 or WINDOWS-1252).",
    )


def _sniff_delimiter(sample: str, quotechar: str = '"') -> str | None:
    """The candidate that splits the sample's lines most consistently into 2+ fields, or None
    for a single column. Quoted fields are respected."""
    lines = sample.splitlines()[:-1] or sample.splitlines()  # the last may be cut short
    best, best_score = None, 0.0
    for delimiter in DELIMITERS:
        reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar)
        widths = [len(row) for row in reader if row]
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        score = count / len(widths)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(
    text: io.TextIOBase, delimiter: str | None, options: ReadOptions, encoding: str = "utf-8"
) -> Iterator[tuple[int, list[str]]]:
    # Without a delimiter the file is one column; a character that cannot occur keeps csv
    # handling quotes and line endings for us.
    spent = [0]  # characters of the record being read
    lines = _bounded_lines(text, options.max_row_chars, spent)
    reader = csv.reader(lines, delimiter=delimiter or "\x00", quotechar=options.quotechar)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
            spent[0] = 0
    except UnicodeDecodeError as error:
        raise _bad_encoding(encoding, start) from error
    except _RowTooLong:
        raise ImportRejected(
            "row_too_long",
            f"Row {start} is longer than {options.max_row_chars / MiB:.0f} MB: is this really a "
            "list of phone numbers? Each recipient needs a line of its own; export the list "
            "again as CSV or XLSX.",
        ) from None
    except csv.Error as error:
        raise ImportRejected(
            "unreadable",
            f"Row {start} could not be read ({error}). Check its quotes, or choose another "
            "delimiter or quote character in the form.",
        ) from error


class _RowTooLong(Exception):
    pass


def _bounded_lines(text: io.TextIOBase, limit: int, spent: list[int]) -> Iterator[str]:
    """The lines of ``text``, never more than ``limit`` characters read at once: a file that is
    one 50 MB line would otherwise become one 50 MB string, and csv would make millions of
    cells of it. Raises _RowTooLong once the record being read (``spent[0]`` characters, which
    the caller resets after each record) passes ``limit``. A NUL is dropped: no database's
    text holds one (PostgreSQL refuses U+0000), and one in a cell past the sniffed sample
    failed a whole import (review r23)."""
    readline = text.readline
    while line := readline(limit + 1):
        spent[0] += len(line)
        if spent[0] > limit:
            raise _RowTooLong
        yield line.replace("\x00", "") if "\x00" in line else line


def _peek_rows(sample: str, delimiter: str | None, quotechar: str) -> list[list[str]]:
    lines = sample.splitlines()[:11]
    rows = csv.reader(lines, delimiter=delimiter or "\x00", quotechar=quotechar)
    return [row for row in rows if "".join(row).strip()] or [[]]


# --- header, columns and placeholders -----------------------------------------------------
