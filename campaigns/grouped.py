"""Grouped commits for single messages (the API's POST /api/v1/messages).

Each accepted message must be committed before its 202 goes out, and each commit waits for
PostgreSQL to flush its WAL to disk (1-4 ms here). Worse, every insert into a campaign adds to
that campaign's counters row (the message triggers, campaigns/migrations/0007), whose lock is
held until the commit: concurrent single messages of one route would queue behind each
other's flush, one at a time, whatever the number of threads. So a web process hands its
messages to one writer thread, which stores whatever has queued up meanwhile with one
opt-out read, one multi-row INSERT and one commit, then wakes each waiting request with its
message (or with None: the number opted out). One flush and one counters update serve every
message of the group; a lone request is a group of one and waits for nothing else.

Inside a transaction already (a test's, or a caller's ``atomic``) the messages are written at
once on the caller's connection, in that transaction, since the writer's connection could not
see what it has not committed.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Message, new_reference
from campaigns.open_route import OPEN
from contacts.models import Contact

logger = logging.getLogger(__name__)

MOST = 500  # messages in one group at most
IDLE_SECONDS = 0.1  # after this long without a group, the connection is checked first
WAIT_SECONDS = 60  # a request gives up on its group after this long (the database is stuck)


class NotStored(Exception):
    """The group's write failed or did not finish in time: the message may not be stored."""


@dataclass(frozen=True)
class Row:
    """One message to store: a pending message of ``campaign_id`` to ``phone``."""

    workspace_id: int
    campaign_id: int
    phone: str
    country: str
    number_type: str
    fields: dict

    def message(self, now) -> Message:
        return Message(
            campaign_id=self.campaign_id,
            phone=self.phone,
            country=self.country,
            number_type=self.number_type,
            fields=self.fields,
            created_at=now,
            updated_at=now,
        )


# What the API answers of a new message, read back as stored (reference first: the key).
ANSWER = (  # noqa: SIM905 - a list of names reads best as one string
    "reference id status raw_status error_code error_reason attempt provider_message_id "
    "created_at updated_at"
).split()


class _Ticket:
    """One request's message in the queue. ``done`` is held until the writer lets it go: a
    plain lock costs less to wait on and to release than an Event."""

    __slots__ = ("done", "error", "message", "row")

    def __init__(self, row: Row):
        self.row, self.message, self.error = row, None, None
        self.done = threading.Lock()
        self.done.acquire()


def write(rows: list[Row]) -> list[Message | Stored | None]:
    """Stores ``rows`` in one transaction: a Message for each, None for a number its workspace
    has opted out or a campaign no longer open (both read in the same transaction, so an
    opt-out or a stop committed before it counts; a stop that commits after it finds the
    message pending and cancels it)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _write_postgresql(rows, now)
    with transaction.atomic():  # SQLite: BEGIN IMMEDIATE, so nothing changes meanwhile
        opted_out = _opted_out(rows)
        open_ = set(
            Campaign.objects.filter(
                pk__in={r.campaign_id for r in rows}, status__in=OPEN
            ).values_list("pk", flat=True)
        )
        messages = [
            r.message(now)
            if (r.workspace_id, r.phone) not in opted_out and r.campaign_id in open_
            else None
            for r in rows
        ]
        Message.objects.bulk_create([m for m in messages if m is not None])
    return messages


def _opted_out(rows: list[Row]) -> set[tuple[int, str]]:
    phones = {r.phone for r in rows}
    found = Contact.objects.filter(
        workspace_id__in={r.workspace_id for r in rows},
        phone__in=phones,
        opted_out_at__isnull=False,
    ).values_list("workspace_id", "phone")
    return set(found)


class Stored:
    """A message as the PostgreSQL write stored it: the columns the API's answer shows, under
    Message's attribute names (an instance of Message costs more to build than the row)."""

    __slots__ = (*ANSWER, "campaign_id", "fields", "phone", "country", "number_type")

    def __init__(self, row: Row, values):
        for name, value in zip(ANSWER, values, strict=True):
            setattr(self, name, value)
        self.campaign_id, self.fields = row.campaign_id, row.fields
        self.phone, self.country, self.number_type = row.phone, row.country, row.number_type

    @property
    def pk(self) -> int:
        return self.id


_SQL: list = []


def _write_postgresql(rows: list[Row], now) -> list[Stored | None]:
    """One statement: the rows as arrays (unnest), less the opted-out numbers, inserted with
    every other column at its default, bound on the server (the ORM's bulk_create, or psycopg
    writing each value into the SQL, spend more than PostgreSQL does on the rows). In
    autocommit the statement is its own transaction; inside a caller's, it joins it."""
    if not _SQL:
        _SQL.append(_insert_sql())
    sql, defaults = _SQL[0]
    references = [new_reference() for _ in rows]
    columns = [
        references,
        [r.phone for r in rows],
        [r.country for r in rows],
        [r.number_type for r in rows],
        [json.dumps(r.fields) for r in rows],
        [r.campaign_id for r in rows],
        [r.workspace_id for r in rows],
    ]
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [now, now, *defaults, *columns, *OPEN])
        stored = {values[0]: values for values in cursor.fetchall()}
    return [
        Stored(row, stored[reference]) if reference in stored else None
        for row, reference in zip(rows, references, strict=True)
    ]


_GIVEN = ("reference", "phone", "country", "number_type", "fields", "campaign_id")
_TYPES = ("text", "text", "text", "text", "jsonb", "bigint", "bigint")


def _insert_sql() -> tuple[str, list]:
    quote = connection.ops.quote_name
    fields = Message._meta.concrete_fields
    # Columns with only a database default are left to it; the answer reads them back.
    rest = [
        f
        for f in fields
        if not f.primary_key
        and not (f.has_db_default() and not f.has_default())
        and f.attname not in (*_GIVEN, "created_at", "updated_at")
    ]
    defaults = [f.get_db_prep_save(f.get_default(), connection) for f in rest]
    names = ["created_at", "updated_at", *[f.column for f in rest], *_GIVEN]
    values = [
        "%s::timestamptz",
        "%s::timestamptz",
        *[f"%s::{f.db_type(connection)}" for f in rest],
        *[f"v.{name}" for name in _GIVEN],
    ]
    arrays = ", ".join(f"%s::{kind}[]" for kind in _TYPES)
    contacts = quote(Contact._meta.db_table)
    answer = [Message._meta.get_field(name).column for name in ANSWER]
    sql = (
        f"INSERT INTO {quote(Message._meta.db_table)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT {', '.join(values)} "
        f"FROM unnest({arrays}) AS v({', '.join(_GIVEN)}, workspace_id) "
        # The campaign still open, locked against a stop until this commits: a stop waits,
        # then cancels these pending messages; one that committed first leaves them out
        # (READ COMMITTED reads the campaign again once the stop's lock is gone).
        f"JOIN {quote(Campaign._meta.db_table)} c ON c.id = v.campaign_id "
        "WHERE c.status IN (%s, %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {contacts} k WHERE k.workspace_id = v.workspace_id "
        "AND k.phone = v.phone AND k.opted_out_at IS NOT NULL) "
        "FOR SHARE OF c "
        f"RETURNING {', '.join(quote(c) for c in answer)}"
    )
    return sql, defaults


def _check_connection() -> None:
    """What a request's start does (close_old_connections): a connection past
    CONN_MAX_AGE or broken (a database restart, an idle connection killed) is closed, and the
    next statement opens one. Under load the writer never idles this long and checks nothing."""
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()


class Writer:
    """The process's writer thread and its queue; started on first use in each process (a
    forking server's children each start their own)."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def store(self, row: Row) -> Message | Stored | None:
        """Stores ``row`` with whatever else waits, and returns its message (None: opted
        out). Raises NotStored when the write failed; the message may then be stored or not
        (a connection lost during the commit cannot tell), so the caller must not try again
        on its own."""
        if connection.in_atomic_block:
            return write([row])[0]
        self._start()
        ticket = _Ticket(row)
        self._queue.put(ticket)
        if not ticket.done.acquire(timeout=WAIT_SECONDS):
            raise NotStored(f"no answer from the database in {WAIT_SECONDS} s")
        if ticket.error is not None:
            raise NotStored(str(ticket.error)) from ticket.error
        return ticket.message

    def _start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, name="crier-grouped-writer", daemon=True).start()
                self._pid = os.getpid()

    def stop(self) -> None:
        """Lets the thread close its connection and end (the test run's end: a connection
        left open keeps the test database from being dropped). The next store starts one."""
        with self._lock:
            if self._pid == os.getpid():
                done = threading.Event()
                self._queue.put(done)
                done.wait(WAIT_SECONDS)
                self._pid = None

    def _run(self) -> None:
        tickets, stop, last = self._queue, None, 0.0
        while stop is None:
            group = []
            while len(group) < MOST:
                try:
                    item = tickets.get() if not group else tickets.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, threading.Event):
                    stop = item
                    break
                group.append(item)
            if group:
                if time.monotonic() - last > IDLE_SECONDS:
                    _check_connection()
                self._write(group)
                last = time.monotonic()
        connection.close()
        stop.set()

    @staticmethod
    def _write(group: list[_Ticket]) -> None:
        try:
            # No close_old_connections() here: it would make Django check the connection
            # with a statement of its own before every group, and the group after a failure
            # reconnects anyway (the failure closes it).
            messages = write([t.row for t in group])
        except BaseException as exc:  # every waiting request must hear, whatever happened
            logger.exception("Could not store %d single messages", len(group))
            connection.close()
            for t in group:
                t.error = exc
        else:
            for t, message in zip(group, messages, strict=True):
                t.message = message
        finally:
            for t in group:
                t.done.release()


writer = Writer()
