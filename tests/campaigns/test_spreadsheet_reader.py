"""Workbooks are read in a child process: whatever calamine does with a file (crash, panic,
ask for gigabytes, hang), this process gets rows or an ImportRejected and lives on, and no
child is left behind, however the reading ends."""

from __future__ import annotations

import gc
import io
import os
import time
from contextlib import suppress
from pathlib import Path

import pytest

from core.tables import workbooks as spreadsheets
from core.tables.reader import open_table
from core.tables.table import ImportRejected
from tests.campaigns import corpus
from tests.campaigns.corpus import CONTACTS

XLS = corpus.xls_bytes(CONTACTS[:30])
XLS_ASKING_FOR_4_GIB = XLS[:7868] + b"\0" * 16 + XLS[7868:]  # found by the fuzzing
XLS_THAT_PANICS = XLS[:8704]


def children() -> list[int]:
    """The processes this one started that are running or not yet reaped."""
    me, found = str(os.getpid()), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError):
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                found.append(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def _no_child_left():
    """Every reader is reaped and its pipe closed, whatever the test did with its table."""
    assert children() == []
    open_files = len(os.listdir("/proc/self/fd"))
    yield
    assert children() == []
    assert len(os.listdir("/proc/self/fd")) == open_files


@pytest.fixture(scope="module")
def long_sheet(tmp_path_factory) -> Path:
    """A sheet of 2,000 rows of 2 KB: more than the pipe holds, so that its reader is still
    there, blocked, after a preview."""
    contacts = [corpus.Contact(c.phone, c.name * 200, c.city, c.e164) for c in CONTACTS * 20]
    path = tmp_path_factory.mktemp("sheets") / "long.xlsx"
    path.write_bytes(corpus.xlsx_bytes(contacts))
    return path


def limits(pid: int) -> dict[str, int]:
    """The soft limits of a process, by the names /proc/<pid>/limits gives them."""
    found = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, soft = line[:26].strip(), line[26:47].strip()
        found[name] = int(soft) if soft.isdigit() else soft
    return found


def rejection(data: bytes, filename: str) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught, open_table(io.BytesIO(data), filename=filename):
        pass
    return caught.value


def test_an_xls_that_aborts_its_reader_is_rejected_with_advice():
    # Without a cap calamine would take 4 GiB of this machine; under it, Rust aborts.
    error = rejection(XLS_ASKING_FOR_4_GIB, "shifted.xls")
    assert error.code == "unreadable"
    assert "XLS workbook" in error.message and "CSV" in error.message


def test_an_xls_that_panics_calamine_is_rejected_with_advice():
    error = rejection(XLS_THAT_PANICS, "truncated.xls")
    assert error.code == "unreadable"
    assert "XLS workbook" in error.message and "CSV" in error.message


def test_the_reader_is_capped_as_the_settings_say(settings, long_sheet):
    settings.CRIER_SPREADSHEET_MEMORY_MB = 700
    settings.CRIER_SPREADSHEET_SECONDS = 30
    with open_table(long_sheet, filename="long.xlsx") as table:
        table.preview(10)
        [reader] = children()
        capped = limits(reader)
    inherited = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    assert 700 * 2**20 < capped["Max address space"] < 700 * 2**20 + 2 * inherited
    assert capped["Max cpu time"] == 30


def test_a_reader_that_hangs_is_stopped_after_the_time_limit(settings, monkeypatch):
    settings.CRIER_SPREADSHEET_SECONDS = 1
    # The child is forked, so it inherits the patch: calamine "hangs" there, not here.
    monkeypatch.setattr(
        spreadsheets.python_calamine.CalamineWorkbook,
        "from_filelike",
        lambda source: time.sleep(30),
    )
    started = time.monotonic()
    error = rejection(corpus.xlsx_bytes(), "c.xlsx")
    assert error.code == "unreadable" and "1 seconds" in error.message
    assert time.monotonic() - started < 5


def test_a_preview_stops_the_reader_of_a_long_sheet(long_sheet):
    with open_table(long_sheet, filename="long.xlsx") as table:
        assert len(table.preview(10)) == 10
        assert len(children()) == 1  # blocked on the full pipe
    # _no_child_left: killed and reaped on close


def test_a_table_dropped_without_closing_reaps_its_reader(long_sheet):
    table = open_table(long_sheet, filename="long.xlsx")
    next(iter(table))
    assert len(children()) == 1
    del table
    gc.collect()


def test_a_fully_read_sheet_leaves_no_child_before_the_table_is_closed(tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(corpus.xlsx_bytes())
    with open_table(path, filename="c.xlsx") as table:
        assert len(list(table)) == len(CONTACTS)
        assert children() == []


def test_reading_an_open_file_leaves_its_offset_alone(tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(corpus.xlsx_bytes())
    with open(path, "rb") as upload:
        with open_table(upload, filename="c.xlsx") as table:
            assert len(list(table)) == len(CONTACTS)
        upload.seek(0)
        assert upload.read() == path.read_bytes()


def test_sheet_names_come_from_a_child_too(tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(corpus.xlsx_bytes())
    assert spreadsheets.sheet_names(str(path)) == ["Contacts", "Other"]
    path = tmp_path / "bad.xls"
    path.write_bytes(XLS_THAT_PANICS)
    with pytest.raises(ImportRejected):
        spreadsheets.sheet_names(str(path))
