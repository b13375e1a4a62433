"""XLSX and legacy XLS recipient files, read by python-calamine after the zip container passed
its guards.

calamine is Rust, and a hostile workbook can crash it in ways Python cannot catch: a 10 KB XLS
makes it ask for 4 GiB (a failed allocation aborts the process), a truncated one panics. So
the workbook is read in a forked child process (core.children.fork) with its address
space and CPU time capped, and its rows come back over a pipe in chunks, marshalled. The
child's death or silence turns into ImportRejected; the web or Celery process that asked never
runs calamine itself. Waiting for it obeys core.children.interruptible (Cancel).

The pipe also lets reading overlap the import: the child turns cells into text ahead of the
parent, which normalises and stores them. python-calamine (0.9.1, the newest) has no lazy
reader: the child holds the whole sheet (~180 MB for a million rows of three columns, twice
that for a moment while it is parsed), the parent only the rows in flight.

Settings, read when a workbook is opened (optional):

* ``CRIER_SPREADSHEET_MEMORY_MB`` (default 1536): address space the reading child may add to
  what it inherits. A legitimate million-row, 50 MB XLSX needs about 600.
* ``CRIER_SPREADSHEET_SECONDS`` (default 120): how long the parent waits for the child's next
  chunk, and the child's CPU time limit.
"""

from __future__ import annotations

import codecs
import datetime
import faulthandler
import fcntl
import gc
import io
import marshal
import multiprocessing
import os
import re
import resource
import traceback
import weakref
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from itertools import islice
from typing import BinaryIO

import python_calamine
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core import children
from core.tables.table import (
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
    kind = os.path.splitext(path)[1].lstrip(".").upper() or "XLSX"
    reader = _Reader(path, None, kind, names_only=True)
    try:
        return reader.receive()
    finally:
        reader.close()


def check_zip(stream: BinaryIO, options: ReadOptions) -> None:
    """Refuse zip bombs and XML entity tricks from the central directory and part prologs,
    before calamine decompresses anything in earnest."""
    try:
        with zipfile.ZipFile(stream) as archive:
            _check_zip_sizes(archive.infolist(), options)
            # Every part, whatever its name: the workbook's rels may point at any of them.
            for info in archive.infolist():
                if _has_doctype(archive, info):
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
    except ValueError as error:  # offsets pointing before the archive: "negative seek value"
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
    longer than 64 KiB, or with an item cut off by that limit, is treated as suspect."""
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
    if rest.startswith((b"<!--", b"<?")):  # unterminated: what follows it went unread
        return True
    return rest[:9].upper() == b"<!DOCTYPE" or b"<!ENTITY" in head


def open_workbook(
    source: BinaryIO | str, options: ReadOptions, resources: ExitStack, kind: str = "XLSX"
) -> Table:
    """The chosen sheet (the first by default) as a Table; ``source`` is a path or a file,
    ``kind`` ("XLSX" or "XLS") names the file in messages. The reading child process is
    stopped with ``resources``."""
    reader = _Reader(source, options.sheet, kind)
    resources.callback(reader.close)
    reader.receive()  # the sheet names
    width = reader.receive()
    if width > options.max_columns:
        raise too_many_columns(width, options)
    return make_table(reader.rows(), options, encoding=None, delimiter=None)


# --- the reading child --------------------------------------------------------------------

_FIRST_CHUNK = 64  # rows: enough for a preview, sent as soon as the sheet is parsed
_CHUNK = 4096
_PIPE_SIZE = MiB  # the most Linux allows without privileges: ~20,000 rows ahead


def _limits() -> tuple[int, int]:
    """(memory in MiB, seconds) for a reading child, from the settings when there are any."""
    try:
        return (
            # Address space the child may add to what it inherits from this process.
            int(getattr(settings, "CRIER_SPREADSHEET_MEMORY_MB", _MEMORY_MB)),
            # The longest wait for the child's next message, and its CPU time limit.
            int(settings.CRIER_SPREADSHEET_SECONDS),
        )
    except ImproperlyConfigured:  # a script without Django, such as bench/import_read.py
        return _MEMORY_MB, _SECONDS


_MEMORY_MB = 1536  # a million-row, 47 MB XLSX of five columns needs ~600
_SECONDS = 120


class _Reader:
    """A workbook read in a forked child. ``receive`` returns the child's next message: the
    sheet names, then the chosen sheet's width, then chunks of rows that ``rows`` yields.

    Forked, not spawned: a fresh interpreter would take half a second to import the app, and
    multiprocessing refuses to start processes from a Celery prefork child (a daemon). The
    child touches nothing it inherited (no database, no logging, no garbage collection that
    could finalise the parent's objects) and leaves with os._exit."""

    def __init__(self, source: BinaryIO | str, sheet, kind: str, *, names_only: bool = False):
        memory_mb, self.seconds = _limits()
        self.kind = kind
        receiving, sending = multiprocessing.Pipe(duplex=False)
        with suppress(OSError, AttributeError):  # not Linux: the default 64 KiB
            fcntl.fcntl(sending.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        pid = children.fork()  # without the worker's signal handlers
        if pid == 0:
            receiving.close()
            _child(sending, source, sheet, kind, names_only, memory_mb, self.seconds)
        sending.close()
        self._connection = receiving
        self._stop = weakref.finalize(self, _stop, pid, receiving)

    def receive(self):
        """The child's next message; ImportRejected when it rejected the file, died or was
        silent for too long (it is stopped then)."""
        try:
            if not children.wait(self._connection.poll, self.seconds):
                self.close()
                raise ImportRejected(
                    "unreadable",
                    f"Reading the {self.kind} workbook took more than {self.seconds} seconds; "
                    "it may be damaged. Open it in Excel and save it again, or export it as CSV.",
                )
            tag, value = marshal.loads(self._connection.recv_bytes())
        except (EOFError, OSError) as error:  # died: a crash, or over its memory or CPU time
            self.close()
            raise ImportRejected(
                "unreadable",
                f"The file could not be read as an {self.kind} workbook: it is damaged, or "
                "reading it needs more memory than Crier allows. Open it in Excel and save it "
                "again, or export it as CSV.",
            ) from error
        if tag == "rejected":
            self.close()
            raise ImportRejected(*value)
        if tag == "failed":
            self.close()
            raise RuntimeError(f"The workbook reader failed:\n{value}")
        return value

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """The sheet's rows, numbered as Excel shows them (iter_rows starts at the first
        row), their cells as text."""
        number = 1
        while (chunk := self.receive()) is not None:
            yield from enumerate(chunk, number)
            number += len(chunk)
        self.close()

    def close(self) -> None:
        """Stops the child (if still running) and reaps it; a second call does nothing."""
        self._stop()


def _stop(pid: int, connection) -> None:
    connection.close()
    children.stop(pid)


def _child(sending, source, sheet, kind: str, names_only: bool, memory_mb: int, seconds: int):
    """In the child: read and send, then exit without returning into the parent's code."""
    try:
        gc.disable()
        # A crash is reported as a rejected file: no traceback, and no Rust backtrace, which
        # takes seconds to symbolise.
        faulthandler.disable()
        os.environ.pop("RUST_BACKTRACE", None)
        _cap(resource.RLIMIT_AS, _address_space() + memory_mb * MiB)
        _cap(resource.RLIMIT_CPU, seconds)
        _send_workbook(sending, source, sheet, names_only)
    except ImportRejected as rejected:
        _send_last(sending, "rejected", (rejected.code, rejected.message))
    except BaseException as error:  # pyo3's PanicException is a BaseException
        if isinstance(error, _UNREADABLE) or type(error).__name__ == "PanicException":
            message = unreadable(f"an {kind} workbook")
            _send_last(sending, "rejected", (message.code, message.message))
        else:
            _send_last(sending, "failed", traceback.format_exc())
    finally:
        os._exit(0)


# What calamine raises for a file it cannot read; MemoryError comes from Python under the cap.
_UNREADABLE = (python_calamine.CalamineError, ValueError, OSError, MemoryError)


def _send_workbook(sending, source, sheet, names_only: bool) -> None:
    with _open(source) as workbook:
        sending.send_bytes(marshal.dumps(("names", list(workbook.sheet_names))))
        if names_only:
            return
        found = _pick_sheet(workbook, sheet)
        sending.send_bytes(marshal.dumps(("width", found.width)))
        rows = ([v if type(v) is str else _cell_text(v) for v in r] for r in found.iter_rows())
        size = _FIRST_CHUNK
        while chunk := list(islice(rows, size)):
            sending.send_bytes(marshal.dumps(("rows", chunk)))
            size = _CHUNK
        sending.send_bytes(marshal.dumps(("rows", None)))


def _send_last(sending, tag: str, value) -> None:
    with suppress(OSError):  # the parent stopped listening
        sending.send_bytes(marshal.dumps((tag, value)))


def _open(source: BinaryIO | str) -> python_calamine.CalamineWorkbook:
    # From a path calamine reads the parts it needs; from a file it copies the whole file.
    if isinstance(source, str):
        return python_calamine.CalamineWorkbook.from_path(source)
    try:
        # A real file shares its offset with the parent's copy: read it through a file of
        # our own, or the parent's next read of it would start where calamine stopped.
        source = open(f"/proc/self/fd/{source.fileno()}", "rb")  # noqa: SIM115
    except (AttributeError, OSError, io.UnsupportedOperation):
        source.seek(0)  # in memory, and this copy is the child's own
    return python_calamine.CalamineWorkbook.from_filelike(source)


def _address_space() -> int:
    """This process's address space in bytes: what it inherited counts against RLIMIT_AS."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _cap(limit: int, value: int) -> None:
    soft, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if soft == resource.RLIM_INFINITY or value < soft:
        resource.setrlimit(limit, (value, hard))


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
