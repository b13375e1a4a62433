"""Fast bulk inserts of messages: COPY on PostgreSQL, multi-row INSERTs elsewhere.

Django's bulk_create costs ~50 µs a row; COPY ~4 µs and SQLite's multi-row INSERT ~5 µs, which
is the difference between a million-row import in seconds or in minutes. An import on SQLite
stages its rows in a temporary table as it reads and moves them with one INSERT ... SELECT
(StagingWriter): ~4.5 µs a row at the end instead of ~20.

Recipients travel as lines of PostgreSQL's COPY text format (tab-separated, backslash
escaped): ``reference, phone, country, number_type, row_number, fields``, then the columns
every message of a campaign shares (``MessageWriter.tail``), so PostgreSQL takes them as
they are.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from itertools import islice
from json.encoder import encode_basestring
from operator import itemgetter
from typing import TextIO

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import CampaignCounters, Message
from core.background import BatchThread
from core.bulk import deferrable_foreign_keys
from core.statuses import MessageStatus

_COLUMNS = (
    "reference",
    "phone",
    "country",
    "number_type",
    "row_number",
    "fields",
    "campaign_id",
    "status",
    "provider_message_id",
    "error_code",
    "error_reason",
    "created_at",
    "updated_at",
)
_CHUNK = 5_000


class FieldsEncoder:
    """Encodes a row's placeholder values as the JSON object ``{name: value}``, escaped for a
    line of COPY text, several times faster than json.dumps on a dict: the keys are encoded
    once, into a template. A cell missing from a short row counts as empty."""

    def __init__(self, names: dict[str, int]):
        indexes = list(names.values())
        self._width = max(indexes, default=-1) + 1
        keys = (encode_basestring(name).replace("%", "%%") for name in names)
        self._template = "{" + ",".join(key + ":%s" for key in keys) + "}"
        # The row's values in C, without a loop in Python (~0.2 µs a row of two less);
        # itemgetter of a single index gives the value itself, not a tuple of it.
        if len(indexes) > 1:
            self._values = itemgetter(*indexes)
        else:
            self._values = lambda cells: [cells[index] for index in indexes]

    def __call__(self, cells: list[str]) -> str:
        if len(cells) < self._width:
            cells = cells + [""] * (self._width - len(cells))
        values = tuple(map(encode_basestring, self._values(cells)))
        # JSON escapes tabs and newlines itself; only backslashes need COPY's escaping.
        return (self._template % values).replace("\\", "\\\\")


def spool_line(reference: str, phone: str, country: str, number_type: str, row: int, data: str):
    """One line for ``insert_messages``; ``data`` comes from a FieldsEncoder."""
    return f"{reference}\t{phone}\t{country}\t{number_type}\t{row}\t{data}\n"


def insert_messages(campaign_id: int, spool: TextIO) -> int:
    """Inserts a pending message for every spool line; returns how many. Runs inside the
    caller's transaction, so a failure leaves no row behind."""
    spool.seek(0)
    if connection.vendor == "postgresql":
        tail = _copy_tail(campaign_id, timezone.now())
        with connection.cursor() as cursor, cursor.cursor.copy(_copy_sql()) as copy:
            count = 0
            while lines := list(islice(spool, _CHUNK)):
                copy.write("".join(line[:-1] + tail for line in lines))
                count += len(lines)
        return count
    return _insert_rows(campaign_id, spool, timezone.now())


def _copy_sql() -> str:
    return f"COPY {Message._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"


def _copy_tail(campaign_id: int, now) -> str:
    stamp = now.isoformat()
    return f"\t{campaign_id}\t{MessageStatus.PENDING.value}\t\t\t\t{stamp}\t{stamp}\n"


def _insert_rows(campaign_id: int, spool: TextIO, now) -> int:
    # Hundreds of rows a statement: SQLite opens a statement journal for every statement on a
    # table with triggers (the counters' of migration 0007), ~11 µs that a row-by-row
    # executemany pays a million times.
    stamp = connection.ops.adapt_datetimefield_value(now)
    constant = (campaign_id, MessageStatus.PENDING.value, "", "", "", stamp, stamp)
    per_statement = min(500, (connection.features.max_query_params or 6_500) // len(_COLUMNS))
    row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    insert = f"INSERT INTO {Message._meta.db_table} ({', '.join(_COLUMNS)}) VALUES "
    count = 0
    with connection.cursor() as cursor:
        while lines := list(islice(spool, per_statement)):
            params = []
            for line in lines:
                ref, phone, country, kind, row, data = line[:-1].split("\t")
                params += (ref, phone, country, kind, int(row), data.replace("\\\\", "\\"))
                params += constant
            cursor.execute(insert + ", ".join([row_sql] * len(lines)), params)
            count += len(lines)
    return count


def message_writer(campaign_id: int, *, replace: bool = False) -> MessageWriter:
    """The writer for the default connection's database (see MessageWriter); with
    ``replace``, the campaign's current messages go when the new ones come."""
    if connection.vendor == "postgresql":
        return CopyWriter(campaign_id, replace)
    if connection.vendor == "sqlite" and sqlite3.threadsafety == 3:
        # Serialised: the staging thread may share the connection (StagingWriter).
        return StagingWriter(campaign_id, replace)
    return SpoolWriter(campaign_id, replace)


class MessageWriter:
    """Takes an import's accepted recipients batch by batch, as lines of COPY text that end
    with ``tail`` (see the module docstring), and stores them as pending messages.

    ``streams`` tells the caller how: a streaming writer (PostgreSQL) stores each batch at
    once, inside a transaction the caller holds open for the whole import and enters before
    the writer, so the database indexes one batch while Python reads the next; the other
    kind keeps the lines in a temporary file until ``finish``, which the caller runs in the
    short transaction that ends the import. Either way nobody sees a change before that
    transaction commits. ``write`` and ``finish`` raise whatever went wrong while storing.
    """

    streams: bool
    tail: str

    def __init__(self, campaign_id: int, replace: bool):
        self.campaign_id = campaign_id
        self.replace = replace

    def write(self, lines: list[str]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Waits until a thread of the writer is done with the lines written so far (the
        caller calls it before the transaction that ends the import)."""

    def finish(self) -> None:
        """Stores what is left (after removing the old messages when replacing)."""
        raise NotImplementedError

    def _remove_old(self) -> None:
        if self.replace:
            Message.objects.filter(campaign_id=self.campaign_id).delete()

    def __enter__(self) -> MessageWriter:
        return self

    def __exit__(self, *exc) -> None:
        pass


class SpoolWriter(MessageWriter):
    """Spools the lines to a temporary file; ``finish`` inserts them (``insert_messages``)."""

    streams = False
    tail = "\n"

    def __enter__(self) -> SpoolWriter:
        self._spool = tempfile.TemporaryFile("w+", newline="", encoding="utf-8")
        return self

    def write(self, lines: list[str]) -> None:
        self._spool.write("".join(lines))

    def finish(self) -> None:
        self._remove_old()
        insert_messages(self.campaign_id, self._spool)

    def __exit__(self, *exc) -> None:
        self._spool.close()


class StagingWriter(MessageWriter):
    """SQLite: a thread stores each batch in a temporary table while the caller reads the
    next; ``finish`` moves them all into the message table with one INSERT ... SELECT, in
    the caller's short transaction at the end.

    A temporary table is the connection's own (nobody else sees it, and it locks nothing of
    the database's), so the thread uses the default connection's sqlite3 connection, as
    CopyWriter does psycopg's: SQLite built serialised (``sqlite3.threadsafety`` 3, checked
    by ``message_writer``) runs the two threads' statements one at a time. Each batch goes
    in by statements of thousands of rows: sqlite3 lets go of the GIL while a statement runs,
    once a statement, where executemany would take it back after every row and wait for the
    reading thread to give it up each time. The final INSERT ... SELECT runs without Python,
    one statement journal for all the rows, with a larger page cache than SQLite's 2 MiB for
    the message table's indexes. Inserting 900,000 spooled rows took 17.8 s of CPU row by row
    in statements of 500 (insert_messages); staging took 1.2 s beside the reading, and the
    INSERT ... SELECT 9.2 s with the default cache, 6.0 s with 64 MiB; without the counters'
    row trigger (``_insert_pending``) and the fields' unescaping (done while staging) ~3.9 s
    of CPU (replayed alone: the trigger took ~1.8 s and wrote ~150 MB of statement journal;
    of what is left, the phone index, filled in random order, ~2 s, the table ~1.3 s, the
    other six indexes ~0.4 s).

    While the thread stages no row count read on the connection can be trusted: sqlite3 reads
    it from the connection after the statement, and a staging INSERT ending in between is
    counted instead (review r21: a cancelled import's claim could read "claimed"). So the
    caller ``flush``es (the thread stops) before the transaction that ends the import.
    """

    streams = False
    tail = "\n"
    _ROWS = 5_000  # rows a statement: 6 parameters each, within SQLite's 32,766
    # The final statement's page cache: 72 bytes a row (the random-order phone index's share,
    # about), at most 64 MiB; SQLite's default 2 MiB took 9.2 s of 900,000 rows, 64 MiB 6.0 s.
    _CACHE_BYTES_A_ROW, _CACHE_KIB = 72, 64 * 1024

    def __enter__(self) -> StagingWriter:
        connection.ensure_connection()
        self._raw = connection.connection
        self._table = f"crier_import_{os.urandom(6).hex()}"
        self._raw.execute(
            f"CREATE TEMP TABLE {self._table} "
            "(reference, phone, country, number_type, row_number INTEGER, fields)"
        )
        self._rows = 0
        self._pending: list[str] = []
        self._stager = BatchThread("crier-stage", self._stage, last=self._stage_rest, waiting=2)
        return self

    def _stage(self, lines: list[str]) -> None:
        self._pending = self._insert(self._pending + lines, self._ROWS)

    def _stage_rest(self) -> None:
        self._insert(self._insert(self._pending, 100), 1)

    def _insert(self, lines: list[str], per_statement: int) -> list[str]:
        """Stages ``lines`` by statements of ``per_statement`` rows; returns those left over.
        Every statement has one of three sizes: sqlite3 keeps each statement it prepared,
        with the values last bound to it, and a statement of each batch's odd size would
        keep ~3 MB a batch."""
        whole = len(lines) - len(lines) % per_statement
        _stage_lines(self._raw, self._table, lines[:whole], per_statement)
        return lines[whole:]

    def write(self, lines: list[str]) -> None:
        self._stager.put(lines)
        self._rows += len(lines)

    def flush(self) -> None:
        self._stager.finish()

    def finish(self) -> None:
        self.flush()
        self._remove_old()
        stamp = connection.ops.adapt_datetimefield_value(timezone.now())
        cache_kib = min(self._CACHE_KIB, self._rows * self._CACHE_BYTES_A_ROW // 1024)
        with connection.cursor() as cursor, _page_cache(cursor, max(cache_kib, 2048)):
            _insert_pending(
                cursor,
                self.campaign_id,
                f"INSERT INTO {Message._meta.db_table} ({', '.join(_COLUMNS)}) "
                "SELECT reference, phone, country, number_type, row_number, fields, "
                "%s, %s, '', '', '', %s, %s "
                f"FROM temp.{self._table} ORDER BY rowid",
                [self.campaign_id, MessageStatus.PENDING.value, stamp, stamp],
            )

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc is not None:  # a batch still waiting need not go in
            self._stager.drop_waiting()
        self._stager.stop()
        with contextlib.suppress(sqlite3.Error):
            self._raw.execute(f"DROP TABLE IF EXISTS temp.{self._table}")


def _stage_lines(raw: sqlite3.Connection, table: str, lines: list[str], per_statement: int):
    """Stages ``lines`` by statements of ``per_statement`` rows, their fields' backslashes
    unescaped (see FieldsEncoder) here, beside the reading, rather than in the INSERT ... SELECT
    at the end, which nothing overlaps (~0.3 s of a million rows)."""
    insert = f"INSERT INTO temp.{table} VALUES {', '.join(['(?, ?, ?, ?, ?, ?)'] * per_statement)}"
    for start in range(0, len(lines), per_statement):
        chunk, values = lines[start : start + per_statement], []
        # Split 500 lines at a time: a string of 5,000 (~0.5 MB) comes from outside glibc's
        # heap, and freeing it raises the threshold, so that its successors grew the heap.
        for piece in range(0, len(chunk), 500):
            text = "".join(chunk[piece : piece + 500]).replace("\\\\", "\\")
            # No value holds a tab or a line feed (JSON escapes them): six values a line.
            values += text.replace("\n", "\t").split("\t")
            values.pop()  # after the last line's line feed
        raw.execute(insert, values)


@contextlib.contextmanager
def _page_cache(cursor, kib: int):
    """The page cache at ``kib`` KiB on this connection for the block, then as it was."""
    cursor.execute("PRAGMA main.cache_size")
    cache_size = int(cursor.fetchone()[0])
    cursor.execute(f"PRAGMA main.cache_size = -{kib}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA main.cache_size = {cache_size}")
        cursor.execute("PRAGMA shrink_memory")


# The counters' row trigger of migration 0007 (SQLite has no statement-level triggers).
_COUNTS_TRIGGER = "campaigns_message_counts_insert"


def _insert_pending(cursor, campaign_id: int, sql: str, params: list) -> None:
    """SQLite: runs ``sql``, which inserts pending messages of the campaign, without the
    counters' row trigger, then moves the counters once by the rows inserted, as the trigger
    would a row at a time (~2 µs a row, in the statement at the end that nothing overlaps).
    Dropped and made again in one atomic block, the trigger is never missing for another
    connection (none writes meanwhile; readers see the schema as last committed), and a
    failure rolls the drop back with the rows."""
    with transaction.atomic():
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s",
            [_COUNTS_TRIGGER],
        )
        trigger = cursor.fetchone()
        if trigger is None:  # no counters kept on this table: nothing to stand in for
            cursor.execute(sql, params)
            return
        cursor.execute(f"DROP TRIGGER {_COUNTS_TRIGGER}")
        cursor.execute(sql, params)
        if added := cursor.rowcount:
            pending = MessageStatus.PENDING.value
            cursor.execute(
                f"INSERT INTO {CampaignCounters._meta.db_table} (campaign_id, total, {pending}) "
                "VALUES (%s, %s, %s) ON CONFLICT (campaign_id) DO UPDATE SET "
                f"total = total + excluded.total, {pending} = {pending} + excluded.{pending}",
                [campaign_id, added, added],
            )
        cursor.execute(trigger[0])


class CopyWriter(MessageWriter):
    """COPYs each batch on the default connection, inside the caller's transaction.

    A thread runs the COPY statements on the connection's psycopg connection (which is
    thread-safe; Django's wrapper is not used from the thread) while the caller prepares the
    next batch. The caller may use the connection between batches: it waits for the COPY
    under way. Foreign keys are checked at the end of each COPY rather than all at the
    commit, so that work overlaps with reading as well.
    """

    streams = True

    def __enter__(self) -> CopyWriter:
        self.tail = _copy_tail(self.campaign_id, timezone.now())
        self._sql = _copy_sql()
        self._remove_old()
        with connection.cursor() as cursor:
            self._foreign_keys = deferrable_foreign_keys(cursor, Message._meta.db_table)
            if self._foreign_keys:
                cursor.execute(f"SET CONSTRAINTS {self._foreign_keys} IMMEDIATE")
        self._raw = connection.connection
        self._copier = BatchThread("crier-copy", self._copy)
        return self

    def _copy(self, text: str) -> None:
        with self._raw.cursor() as cursor, cursor.copy(self._sql) as copy:
            copy.write(text)

    def write(self, lines: list[str]) -> None:
        self._copier.put("".join(lines))

    def finish(self) -> None:
        self._copier.finish()
        if self._foreign_keys:
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {self._foreign_keys} DEFERRED")

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc is not None:  # the transaction is going: a batch still waiting need not go in
            self._copier.drop_waiting()
        self._copier.stop()
        if exc is not None and self._copier.error is not None and exc is not self._copier.error:
            # A failed COPY aborts the transaction, and whatever the caller ran next on it
            # failed for that reason: the COPY's error is the one worth reporting.
            raise self._copier.error
