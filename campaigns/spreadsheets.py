"""XLSX and legacy XLS recipient files, read by python-calamine after the zip container passed
its guards.

python-calamine (0.9.1, the newest) has no lazy reader: a sheet is parsed whole into memory
before its first row is returned (calamine itself streams no cells), about 180 MB for a
million rows of three columns and twice that for a moment while it is parsed. The rows are
then turned into Python lists one at a time, so the peak is calamine's, not ours.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import datetime
import pickle
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import islice
from typing import BinaryIO

import python_calamine

from campaigns.recipients import (
    ImportRejected,
    MiB,
    ReadOptions,
    Table,
    make_table,
    too_many_columns,
    unreadable,
)


def sheet_names(path: str) -> list[str]:
    """The sheets of a workbook that passed the guards, in workbook order."""
    with python_calamine.CalamineWorkbook.from_path(path) as workbook:
        return list(workbook.sheet_names)


def check_zip(stream: BinaryIO, options: ReadOptions) -> None:
    """Refuse zip bombs and XML entity tricks from the central directory and part prologs,
    before calamine decompresses anything in earnest."""
    try:
        with zipfile.ZipFile(stream) as archive:
            _check_zip_sizes(archive.infolist(), options)
            for info in archive.infolist():
                if info.filename.endswith((".xml", ".rels")) and _has_doctype(archive, info):
                    raise ImportRejected(
                        "xml_entities",
                        f"The workbook part {info.filename} declares a DOCTYPE or entities, "
                        "which spreadsheets never need. Re-save the file from Excel or export "
                        "it as CSV.",
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        raise unreadable("XLSX") from error
    except (RuntimeError, zlib.error) as error:  # encrypted or corrupt part
        raise unreadable("XLSX") from error
    finally:
        stream.seek(0)


def _check_zip_sizes(infos: list[zipfile.ZipInfo], options: ReadOptions) -> None:
    total = sum(info.file_size for info in infos)
    if total > options.max_unzipped_bytes:
        raise ImportRejected(
            "zip_bomb",
            f"The workbook would unpack to {total / MiB:.0f} MB, over the "
            f"{options.max_unzipped_bytes / MiB:.0f} MB limit. Save it as CSV instead.",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MiB and ratio > options.max_zip_ratio:
            raise ImportRejected(
                "zip_bomb",
                f"The workbook part {info.filename} is compressed {ratio:.0f} times, more than "
                f"the {options.max_zip_ratio} an honest spreadsheet needs. Save it as CSV instead.",
            )


_PROLOG_LIMIT = 64 * 1024
# The XML prolog: declaration, comments, processing instructions and white space.
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def _has_doctype(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a part declares a DOCTYPE. Entities can only be declared in a DOCTYPE, which
    can only appear in the prolog, so reading up to the root element is enough; a prolog
    longer than 64 KiB is treated as suspect."""
    with archive.open(info) as part:
        head = part.read(_PROLOG_LIMIT)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", errors="replace").encode()
    head = head.removeprefix(codecs.BOM_UTF8)
    pos = 0
    while match := _PROLOG_ITEM.match(head, pos):
        pos = match.end()
    rest = head[pos:]
    if not rest:
        return len(head) >= _PROLOG_LIMIT
    return rest[:9].upper() == b"<!DOCTYPE" or b"<!ENTITY" in head


def open_workbook(source: BinaryIO | str, options: ReadOptions, resources: ExitStack) -> Table:
    """The chosen sheet (the first by default) as a Table; ``source`` is a path or a file.
    The workbook is closed with ``resources``."""
    try:
        # From a path calamine reads the parts it needs; from a file it copies the whole file.
        if isinstance(source, str):
            workbook = python_calamine.CalamineWorkbook.from_path(source)
        else:
            workbook = python_calamine.CalamineWorkbook.from_filelike(source)
        resources.callback(_close, workbook)
        sheet = _pick_sheet(workbook, options.sheet)
        width = sheet.width
    except python_calamine.CalamineError as error:
        raise unreadable("a spreadsheet") from error
    except (ValueError, OSError) as error:
        raise unreadable("a spreadsheet") from error
    if width > options.max_columns:
        raise too_many_columns(width, options)
    rows = _sheet_rows(workbook, sheet)
    resources.callback(rows.close)  # closed first: it holds the last reference to the sheet
    return make_table(rows, options, encoding=None, delimiter=None)


_SPOOLED_BATCH = 10_000


def _sheet_rows(workbook, sheet) -> Iterator[tuple[int, list[str]]]:
    """The sheet's rows, numbered as Excel shows them (iter_rows starts at the first row),
    their cells as text.

    The first half comes straight from calamine. A reader that goes on past it (an import;
    a preview reads a dozen rows) gets the other half copied to a temporary file at once and
    the workbook closed: the sheet's memory (~180 MB for a million rows) is then free again
    for what the import keeps of every row. Copying half the sheet costs half as much time
    as copying all of it, while the import has kept only half as much by then."""
    rows = (
        (number, [v if type(v) is str else _cell_text(v) for v in values])
        for number, values in enumerate(sheet.iter_rows(), 1)
    )
    direct = max(sheet.height // 2, 1_000)
    del sheet  # from here on only ``rows`` holds it
    yield from islice(rows, direct)
    with tempfile.TemporaryFile() as spool:
        while batch := list(islice(rows, _SPOOLED_BATCH)):
            pickle.dump(batch, spool, pickle.HIGHEST_PROTOCOL)
        del rows, batch
        _close(workbook)
        spool.seek(0)
        while True:
            try:
                batch = pickle.load(spool)  # our own file, written just above
            except EOFError:
                return
            yield from batch


def _close(workbook) -> None:
    """Closes a workbook, once, and hands its memory back to the system: calamine frees it,
    but glibc keeps freed small blocks for reuse, and after a million-row sheet the process
    (a web process after a preview, a worker after an import) would stay ~100 MB larger
    until malloc_trim returns them."""
    with contextlib.suppress(python_calamine.WorkbookClosed):
        workbook.close()
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
            ctypes.CDLL(None).malloc_trim(0)


def _pick_sheet(workbook, sheet: str | int | None):
    try:
        if isinstance(sheet, str):
            return workbook.get_sheet_by_name(sheet)
        return workbook.get_sheet_by_index(sheet or 0)
    except python_calamine.WorksheetNotFound as error:
        names = ", ".join(workbook.sheet_names)
        raise ImportRejected(
            "no_such_sheet", f"The workbook has no sheet {sheet!r}; its sheets are: {names}."
        ) from error


def _cell_text(value) -> str:
    """Spreadsheet cell as the user sees it: 77011234567.0 -> "77011234567", dates as ISO."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Excel stores every number as a double; a phone typed as a number is integral.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)
