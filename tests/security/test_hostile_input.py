"""Hostile recipient files: whatever the bytes, the readers in core/tables/reader.py answer
with Crier's own ImportRejected or with rows, within 2 s and a bounded amount of memory.

Hypothesis runs derandomized (a fixed seed, the same examples in CI as on a laptop) with an
explicit example budget per test. Inputs are random bytes behind each kind of file's magic
number, and valid CSV, XLSX and XLS files mutated byte by byte; for XLSX the mutations are
made inside the XML parts and the zip rebuilt, so they reach the XML parser instead of
stopping at the zip's checksums. Each input is read in a forked child with its address space
capped and an alarm set, so that a crash or a runaway allocation in calamine's Rust is seen as
what it is instead of taking the test run down with it.
"""

from __future__ import annotations

import codecs
import faulthandler
import io
import os
import resource
import signal
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.tables.reader import open_table, read_pasted
from core.tables.table import ImportRejected, ReadOptions
from tests.campaigns import corpus

SECONDS = 2.0
MEMORY_MIB = 256  # address space an input may add (Python's and calamine's Rust allocations)
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,  # timed by ``bounded`` below, with the 2 s the issue sets
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OPTIONS = ReadOptions(max_rows=100_000, max_columns=100)


# --- the bounds -----------------------------------------------------------------------------

MiB = 1024 * 1024


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise LookupError("VmSize")


def bounded(read, *args, seconds: float = SECONDS) -> str:
    """Runs ``read(*args)`` in a forked child whose address space may grow by MEMORY_MIB at most,
    and says how it ended: "ok", "rejected", or what went wrong (an exception other than
    ImportRejected, more than SECONDS, or a crash: calamine is Rust, and a Rust allocation
    failure or abort kills the process where Python could not catch it)."""
    with tempfile.TemporaryFile() as errors:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest, whatever happens
            try:
                faulthandler.disable()  # an expected crash is reported below, not dumped
                os.dup2(errors.fileno(), 2)
                os.write(write_end, _outcome(seconds, read, *args).encode()[:4000])
            finally:
                os._exit(0)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_end, "rb") as pipe:
            outcome = pipe.read().decode()
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
            return "hung"
        if os.WIFSIGNALED(status):
            errors.seek(0)
            last_words = errors.read().decode(errors="replace").strip().splitlines()[:1]
            return f"killed by signal {os.WTERMSIG(status)}: {' '.join(last_words)}"
        return outcome


def _outcome(seconds: float, read, *args) -> str:
    """In the child: cap the memory, run, and describe the end."""
    cap = _vm_size() + MEMORY_MIB * MiB
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # SIGALRM's default action ends the process, even inside native code that never returns.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds + 1)
    started = time.perf_counter()
    try:
        read(*args)
        outcome = "ok"
    except ImportRejected as rejected:
        outcome = "rejected" if rejected.code and rejected.message else "a silent rejection"
    except BaseException as error:  # pyo3's PanicException is a BaseException
        outcome = f"{type(error).__name__}: {error}"
    elapsed = time.perf_counter() - started
    return f"took {elapsed:.2f} s" if elapsed > seconds else outcome


def read_everything(data: bytes, filename: str) -> None:
    """Open, preview and stream every row, as the import does."""
    with open_table(io.BytesIO(data), filename=filename, options=OPTIONS) as table:
        table.preview(10)
        for row in table:
            assert all(isinstance(cell, str) for cell in row.cells)


def assert_read_or_rejected(data: bytes, filename: str):
    outcome = bounded(read_everything, data, filename)
    assert outcome in {"ok", "rejected"}, outcome


def hog():
    bytearray(2 * MEMORY_MIB * MiB)


def test_the_bounds_catch_a_slow_hungry_crashing_or_hanging_reader():
    """The control for the harness itself."""
    assert bounded(lambda: None) == "ok"
    assert bounded(read_everything, b"", "empty.csv") == "rejected"
    assert bounded(hog) == "MemoryError: "
    assert bounded(time.sleep, 0.3, seconds=0.2).startswith("took")
    assert bounded(os.abort).startswith("killed by signal 6")
    assert bounded(time.sleep, 5, seconds=0.2) == "hung"


# --- random bytes ---------------------------------------------------------------------------

MAGIC = [b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", codecs.BOM_UTF8,
         codecs.BOM_UTF16_LE, b"<html>", b"phone;name\n"]  # fmt: skip
FILENAMES = ["list.csv", "list.txt", "list.xlsx", "list.xls", "list"]


@settings(FUZZ, max_examples=250)
@given(st.sampled_from(MAGIC), st.binary(max_size=32 * 1024), st.sampled_from(FILENAMES))
def test_random_bytes_are_read_or_rejected(magic, body, filename):
    assert_read_or_rejected(magic + body, filename)


@settings(FUZZ, max_examples=100)
@given(st.text(max_size=4096))
def test_random_pasted_text_is_read_or_rejected(text):
    outcome = bounded(lambda: list(read_pasted(text, OPTIONS)))
    assert outcome in {"ok", "rejected"}, outcome


# --- mutated valid files --------------------------------------------------------------------


def mutate(data: bytes, draw) -> bytes:
    """A few byte-level edits: flips, insertions, deletions, a duplicated run, a truncation."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        match draw(st.sampled_from(["flip", "insert", "delete", "repeat", "truncate"])):
            case "flip":
                data[at] = draw(st.integers(0, 255))
            case "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=64))
            case "delete":
                del data[at : at + draw(st.integers(1, 64))]
            case "repeat":
                run = data[at : at + draw(st.integers(1, 256))]
                data[at:at] = run * draw(st.integers(1, 50))
            case "truncate":
                del data[at:]
    return bytes(data)


CSV_FILES = [corpus.csv_bytes(encoding) for encoding in ["utf-8", "cp1251", "utf-16"]]
CSV_FILES.append(corpus.csv_bytes("utf-8", delimiter=",", multiline_at=3))
XLSX = corpus.xlsx_bytes(corpus.CONTACTS[:30])
XLS = corpus.xls_bytes(corpus.CONTACTS[:30])


def xlsx_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


XLSX_PARTS = xlsx_parts(XLSX)


@pytest.fixture(autouse=True, scope="module")
def _warm_up():
    """Read each kind once in this process, so a forked child finds every codec and module
    imported already instead of importing it (another thread may hold a lock at fork time)."""
    for data, filename in [(CSV_FILES[0], "c.csv"), (CSV_FILES[2], "c.csv"), (XLSX, "c.xlsx"),
                           (XLS, "c.xls")]:  # fmt: skip
        read_everything(data, filename)
    read_pasted("+77011234567\n+77011234568")


@settings(FUZZ, max_examples=150)
@given(st.sampled_from(CSV_FILES), st.sampled_from(["c.csv", "c.txt"]), st.data())
def test_mutated_csv_is_read_or_rejected(original, filename, data):
    assert_read_or_rejected(mutate(original, data.draw), filename)


@settings(FUZZ, max_examples=150)
@given(st.sampled_from(sorted(XLSX_PARTS)), st.data())
def test_mutated_xlsx_parts_are_read_or_rejected(part, data):
    parts = dict(XLSX_PARTS)
    parts[part] = mutate(parts[part], data.draw)
    assert_read_or_rejected(rezip(parts), "c.xlsx")


@settings(FUZZ, max_examples=100)
@given(st.data())
def test_mutated_xlsx_archives_are_read_or_rejected(data):
    assert_read_or_rejected(mutate(XLSX, data.draw), "c.xlsx")


@settings(FUZZ, max_examples=150)
@given(st.data())
def test_mutated_xls_is_read_or_rejected(data):
    assert_read_or_rejected(mutate(XLS, data.draw), "c.xls")


# --- XML entity attacks ---------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)
EXTERNAL_ENTITY = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PARAMETER_ENTITY = b'<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>'


def with_doctype(part: bytes, doctype: bytes, before: bytes = b"") -> bytes:
    declaration, rest = part.split(b"?>", 1)
    return declaration + b"?>" + before + doctype + rest


@pytest.mark.parametrize(
    "part",
    [
        "xl/worksheets/sheet1.xml",
        "xl/sharedStrings.xml",
        "xl/workbook.xml",
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/_rels/workbook.xml.rels",
    ],
)
@pytest.mark.parametrize(
    "doctype",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "parameter-entity"],
)
def test_entity_declarations_in_any_part_are_rejected(part, doctype):
    parts = dict(XLSX_PARTS)
    parts[part] = with_doctype(parts[part], doctype)
    with (
        pytest.raises(ImportRejected) as caught,
        open_table(io.BytesIO(rezip(parts)), filename="evil.xlsx") as table,
    ):
        list(table)
    assert caught.value.code == "xml_entities"
    assert part in caught.value.message


def test_a_doctype_hidden_behind_a_long_prolog_is_rejected():
    parts = dict(XLSX_PARTS)
    padding = b"<!--" + b" " * 70_000 + b"-->"
    parts["xl/sharedStrings.xml"] = with_doctype(
        parts["xl/sharedStrings.xml"], BILLION_LAUGHS, padding
    )
    with pytest.raises(ImportRejected) as caught:
        open_table(io.BytesIO(rezip(parts)), filename="evil.xlsx")
    assert caught.value.code == "xml_entities"


def test_a_doctype_in_a_utf16_part_is_rejected():
    parts = dict(XLSX_PARTS)
    sheet = with_doctype(parts["xl/worksheets/sheet1.xml"], EXTERNAL_ENTITY)
    parts["xl/worksheets/sheet1.xml"] = codecs.BOM_UTF16_LE + sheet.replace(
        b'encoding="UTF-8"', b'encoding="UTF-16"'
    ).decode().encode("utf-16-le")
    with pytest.raises(ImportRejected) as caught:
        open_table(io.BytesIO(rezip(parts)), filename="evil.xlsx")
    assert caught.value.code == "xml_entities"


def test_a_doctype_in_a_part_with_another_name_is_rejected():
    parts = dict(XLSX_PARTS)
    sheet = parts.pop("xl/worksheets/sheet1.xml")
    parts["xl/worksheets/sheet1.dat"] = with_doctype(sheet, EXTERNAL_ENTITY)
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.dat")
    with (
        pytest.raises(ImportRejected) as caught,
        open_table(io.BytesIO(rezip(parts)), filename="evil.xlsx") as table,
    ):
        list(table)
    assert caught.value.code == "xml_entities"


def test_an_entity_in_a_renamed_part_is_never_expanded():
    """Rejected by the guard; and were the guard to miss it, the XML parser would not expand
    a billion laughs either."""
    parts = dict(XLSX_PARTS)
    sheet = parts.pop("xl/worksheets/sheet1.xml")
    laugh = b'<row r="99"><c r="A99" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>'
    parts["xl/worksheets/sheet1.dat"] = with_doctype(sheet, BILLION_LAUGHS).replace(
        b"</sheetData>", laugh
    )
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.dat")
    assert bounded(read_everything, rezip(parts), "evil.xlsx") == "rejected"


# --- regressions found by the fuzzing -------------------------------------------------------


def test_a_zip_whose_offsets_point_before_its_start_is_rejected():
    data = XLSX[:4] + XLSX[5:]  # one byte of the first local header deleted
    with pytest.raises(ImportRejected) as caught:
        open_table(io.BytesIO(data), filename="broken.xlsx")
    assert caught.value.code == "unreadable"


def test_an_xls_that_asks_for_gigabytes_is_rejected():
    data = XLS[:7868] + b"\0" * 16 + XLS[7868:]  # sectors shifted by 16 bytes
    assert bounded(read_everything, data, "shifted.xls") == "rejected"


def test_a_truncated_xls_is_rejected():
    assert bounded(read_everything, XLS[:8704], "truncated.xls") == "rejected"
