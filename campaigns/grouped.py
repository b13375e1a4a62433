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
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Message
from contacts.models import Contact

logger = logging.getLogger(__name__)

MOST = 500  # messages in one group at most
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


@dataclass
class _Ticket:
    row: Row
    done: threading.Event = field(default_factory=threading.Event)
    message: Message | None = None
    error: BaseException | None = None


def write(rows: list[Row]) -> list[Message | None]:
    """Stores ``rows`` in one transaction: a Message for each, None for a number its workspace
    has opted out (read in the same transaction, so an opt-out committed before it counts)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _write_postgresql(rows, now)
    with transaction.atomic():
        opted_out = _opted_out(rows)
        messages = [
            None if (r.workspace_id, r.phone) in opted_out else r.message(now) for r in rows
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


_GIVEN = ("reference", "phone", "country", "number_type", "fields", "campaign_id")
_TYPES = ("text", "text", "text", "text", "jsonb", "bigint")
_SQL: list = []


def _write_postgresql(rows: list[Row], now) -> list[Message | None]:
    """One statement: the rows as arrays (unnest), less the opted-out numbers, inserted with
    every other column at its default. The ORM's bulk_create spends more on compiling a
    statement with a parameter per value than PostgreSQL spends on the rows."""
    if not _SQL:
        _SQL.append(_insert_sql())
    sql, defaults, returned = _SQL[0]
    messages = [r.message(now) for r in rows]
    columns = [[getattr(m, name) for m in messages] for name in _GIVEN]
    columns[4] = [json.dumps(value) for value in columns[4]]
    workspaces = [r.workspace_id for r in rows]
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, *defaults, *columns, workspaces])
        stored = {reference: rest for reference, *rest in cursor.fetchall()}
    for m in messages:
        if m.reference in stored:
            for name, value in zip(returned, stored[m.reference], strict=True):
                setattr(m, name, value)
            m._state.adding = False
    return [None if m._state.adding else m for m in messages]


def _insert_sql() -> tuple[str, list, list[str]]:
    table = Message._meta.db_table
    quote = connection.ops.quote_name
    fields = Message._meta.concrete_fields
    # The database's own defaults come back with the id, as the ORM's INSERT gives them.
    returned = [f for f in fields if f.primary_key or (f.has_db_default() and not f.has_default())]
    rest = [
        f
        for f in fields
        if f not in returned and f.attname not in (*_GIVEN, "created_at", "updated_at")
    ]
    defaults = [f.get_db_prep_save(f.get_default(), connection) for f in rest]
    names = ["created_at", "updated_at", *[f.column for f in rest], *_GIVEN]
    values = ["%s", "%s", *["%s" for _ in rest], *[f"v.{name}" for name in _GIVEN]]
    arrays = ", ".join(f"%s::{kind}[]" for kind in (*_TYPES, "bigint"))
    contacts = quote(Contact._meta.db_table)
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT {', '.join(values)} "
        f"FROM unnest({arrays}) AS v({', '.join(_GIVEN)}, workspace_id) "
        f"WHERE NOT EXISTS (SELECT 1 FROM {contacts} k WHERE k.workspace_id = v.workspace_id "
        "AND k.phone = v.phone AND k.opted_out_at IS NOT NULL) "
        f"RETURNING reference, {', '.join(quote(f.column) for f in returned)}"
    )
    return sql, defaults, [f.attname for f in returned]


class Writer:
    """The process's writer thread and its queue; started on first use in each process (a
    forking server's children each start their own)."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def store(self, row: Row) -> Message | None:
        """Stores ``row`` with whatever else waits, and returns its message (None: opted
        out). Raises NotStored when the write failed; the message may then be stored or not
        (a connection lost during the commit cannot tell), so the caller must not try again
        on its own."""
        if connection.in_atomic_block:
            return write([row])[0]
        self._start()
        ticket = _Ticket(row)
        self._queue.put(ticket)
        if not ticket.done.wait(WAIT_SECONDS):
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
        tickets, stop = self._queue, None
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
                self._write(group)
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
                t.done.set()


writer = Writer()
