"""Upserting a contact import's checked rows by (workspace, phone), a batch at a time.

Each batch goes into a temporary table (COPY on PostgreSQL, a multi-row INSERT elsewhere) and
from there into the contacts with one ``INSERT ... SELECT ... ON CONFLICT (workspace_id, phone)
DO UPDATE``: a new number becomes a contact, a known one gets the row's non-empty values
(custom fields merged with ``||``, ``json_patch`` on SQLite), or with ``fill_blanks`` only the
values it lacks. The update's WHERE skips a contact the row would leave as it was, so
``updated_at`` changes only for contacts that did change; every contact the import writes is
stamped with the import's start (``Target.stamp``), which is how ``counts`` tells the created
and updated ones apart at the end, exactly, however often a number appears in the file.

A number seen again in a later batch is upserted again: the later row wins. With
``fill_blanks``, a contact this import already wrote counts as blank for the later row, so the
later row wins there too.

Into a book that was empty when the import started (``Target.new_book``, PostgreSQL), a
number the import has not written yet is COPYed straight into the contacts (through the rows
table with a plain INSERT when a list is filled, since its members come from that table),
which costs less than an upsert's speculative insertion; only the numbers that repeat an
earlier batch are upserted. A contact someone else added meanwhile makes the COPY or INSERT
fail: its savepoint is rolled back and the batch upserted, as in any other book. Every contact
such an import wrote is then one it created, so they are not counted again at the end.

Longer than 400 lines because it holds both databases' ways of writing a batch (COPY on a
thread of its own for PostgreSQL, a spool and multi-row INSERTs for SQLite), which share the
statements built here.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import NamedTuple

import psycopg
from django.db import connection

from contacts.models import Contact, ContactField, ListMember
from core.background import BatchThread
from core.bulk import deferrable_foreign_keys

_ROWS = "crier_contact_rows"  # the temporary table of one batch
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class Record(NamedTuple):
    """One checked row: None for a value the row does not give. The import builds plain
    tuples in this order (cheaper by a second a million rows); this names the places."""

    phone: str  # E.164
    country: str
    zone: str  # derived from the number ("" when phonenumbers cannot tell)
    name: str | None
    language: str | None
    time_zone: str | None  # given in the file
    opted_out: bool
    fields: str  # a JSON object of the row's typed field values (json_key + json_value)
    row: int


def json_key(key: str) -> str:
    return encode_basestring(key) + ":"


def json_value(value) -> str:
    if isinstance(value, str):
        return encode_basestring(value)
    return repr(value)  # int or float


@dataclass
class Target:
    """Where and how one import writes: its workspace, stamp, mode and the columns mapped."""

    workspace_id: int
    stamp: object  # an aware datetime
    fill_blanks: bool
    mapped: set[str]  # the mapping's targets ("name", "field:city", ...)
    fields: dict[str, ContactField] = field(default_factory=dict)
    list_id: int | None = None
    new_book: bool = False  # the workspace had no contact when the import started
    # A big import into a new book: the contacts it COPYs are bulk-loaded, left to their
    # workspace's own search indexes (contacts.search_indexes).
    bulk: bool = False

    @property
    def stamp_value(self):
        return connection.ops.adapt_datetimefield_value(self.stamp)


def _create_rows_table(cursor, target: Target) -> None:
    postgres = connection.vendor == "postgresql"
    # One left by an earlier import in the same transaction (tests run inside one).
    cursor.execute(f"DROP TABLE IF EXISTS {_ROWS}")
    # Keyed by phone only when the update looks a row up by it (a mapped time zone).
    phone = "text PRIMARY KEY" if "time_zone" in target.mapped else "text"
    cursor.execute(
        f"CREATE TEMPORARY TABLE {_ROWS} (phone {phone}, country text, zone text, "
        f"name text, language text, time_zone text, opted_out boolean, "
        f"fields {'jsonb' if postgres else 'text'}, row_number integer"
        # PostgreSQL's: the number repeats one an earlier batch wrote (StreamingWriter).
        + (", again boolean)" if postgres else ")")
        + (" ON COMMIT DROP" if postgres else "")
    )


def _upsert_sql(target: Target, values: int = 0, rows: str = "true", upsert: bool = True) -> str:
    """The INSERT ... ON CONFLICT statement for one batch in the rows table (those ``rows``
    select), or with ``values`` for that many rows of VALUES (``VALUES_ROW``'s parameters
    each); without ``upsert``, a plain INSERT."""
    postgres = connection.vendor == "postgresql"
    table = Contact._meta.db_table
    mapped = target.mapped
    changes: list[tuple[str, str, str]] = []  # (column, new value, old value to compare)

    def pick(update: str, fill: str) -> str:
        if not target.fill_blanks:
            return update
        # A contact this import already wrote takes a later row's values (the last row wins).
        return f"CASE WHEN c.updated_at = %(stamp)s THEN {update} ELSE {fill} END"

    for column in ("name", "language"):
        if column in mapped:
            update = f"COALESCE(NULLIF(EXCLUDED.{column}, ''), c.{column})"
            fill = f"CASE WHEN c.{column} = '' THEN EXCLUDED.{column} ELSE c.{column} END"
            changes.append((column, pick(update, fill), f"c.{column}"))
    if "time_zone" in mapped:
        # EXCLUDED.time_zone is the file's zone or else the number's; only the file's replaces.
        given = f"(SELECT t.time_zone FROM {_ROWS} t WHERE t.phone = EXCLUDED.phone)"
        update = f"COALESCE({given}, c.time_zone)"
        fill = "CASE WHEN c.time_zone = '' THEN EXCLUDED.time_zone ELSE c.time_zone END"
        changes.append(("time_zone", pick(update, fill), "c.time_zone"))
    if any(m.startswith(("field:", "new:")) for m in mapped):
        if postgres:
            update, fill, old = "c.fields || EXCLUDED.fields", "EXCLUDED.fields || c.fields", None
        else:
            update = "json_patch(c.fields, EXCLUDED.fields)"
            fill = "json_patch(EXCLUDED.fields, c.fields)"
            old = "json(c.fields)"
        changes.append(("fields", pick(update, fill), old or "c.fields"))
    if "opted_out" in mapped:
        changes.append(
            (
                "opt_out_source",
                "CASE WHEN c.opted_out_at IS NULL AND EXCLUDED.opted_out_at IS NOT NULL "
                "THEN 'import' ELSE c.opt_out_source END",
                "c.opt_out_source",
            )
        )
        changes.append(
            ("opted_out_at", "COALESCE(c.opted_out_at, EXCLUDED.opted_out_at)", "c.opted_out_at")
        )
    insert = (
        f"INSERT INTO {table} AS c (workspace_id, phone, country, name, fields, language, "
        "time_zone, opted_out_at, opt_out_source, opt_out_note, created_at, updated_at) "
    )
    if values:
        insert += "VALUES " + ", ".join([_VALUES_ROW.format(ws=int(target.workspace_id))] * values)
    else:
        insert += (
            f"SELECT {int(target.workspace_id)}, t.phone, t.country, COALESCE(t.name, ''), "
            "t.fields, COALESCE(t.language, ''), COALESCE(t.time_zone, t.zone), "
            "CASE WHEN t.opted_out THEN %(stamp)s END, "
            "CASE WHEN t.opted_out THEN 'import' ELSE '' END, '', %(stamp)s, %(stamp)s "
            # In index order: a batch then walks the unique index once instead of at random.
            f"FROM {_ROWS} t WHERE {rows} ORDER BY t.phone"
        )
    if not upsert:
        return insert
    insert += " ON CONFLICT (workspace_id, phone) "
    if not changes:
        sql = insert + "DO NOTHING"
    else:
        distinct = "IS DISTINCT FROM" if postgres else "IS NOT"
        sets = ", ".join(f"{column} = {new}" for column, new, _ in changes)
        differs = " OR ".join(f"{old} {distinct} {new}" for _, new, old in changes)
        sql = f"{insert}DO UPDATE SET {sets}, updated_at = %(stamp)s WHERE {differs}"
    if values:
        # Positional parameters for the rows: the stamp (Crier's own value) goes in as text.
        sql = sql.replace("%(stamp)s", f"'{target.stamp_value}'")
    return sql


# One contact of a VALUES upsert; its parameters come from _values_params.
_VALUES_ROW = "({ws}, %s, %s, %s, %s, %s, %s, %s, %s, '', %s, %s)"


def _values_params(r: Record, stamp) -> tuple:
    phone, country, zone, name, language, time_zone, opted_out, fields, _ = r
    return (
        phone,
        country,
        name or "",
        fields,
        language or "",
        time_zone or zone,
        stamp if opted_out else None,
        "import" if opted_out else "",
        stamp,
        stamp,
    )


def _membership_sql(target: Target) -> str:
    return (
        f"INSERT INTO {ListMember._meta.db_table} (contact_list_id, contact_id, added_at) "
        f"SELECT {int(target.list_id)}, (SELECT c.id FROM {Contact._meta.db_table} c "
        f"WHERE c.workspace_id = {int(target.workspace_id)} AND c.phone = t.phone), %(stamp)s "
        f"FROM {_ROWS} t WHERE true ON CONFLICT (contact_list_id, contact_id) DO NOTHING"
    )


def _add_to_list(cursor, target: Target, phones: list[str]) -> None:
    cursor.execute(
        f"INSERT INTO {ListMember._meta.db_table} (contact_list_id, contact_id, added_at) "
        f"SELECT {int(target.list_id)}, c.id, %s FROM {Contact._meta.db_table} c "
        f"WHERE c.workspace_id = {int(target.workspace_id)} AND c.phone IN "
        f"({', '.join(['%s'] * len(phones))}) ON CONFLICT (contact_list_id, contact_id) DO NOTHING",
        [target.stamp_value, *phones],
    )


def _store_batch(cursor, target: Target, upsert: str, params: dict) -> None:
    """SQLite's: the batch in the rows table into the contacts (and the list)."""
    cursor.execute(upsert, params)
    if target.list_id is not None:
        cursor.execute(_membership_sql(target), params)


def _copy_text(value: str | None) -> str:
    return "\\N" if value is None else value.translate(_COPY_ESCAPES)


def copy_line(r: Record, again: str = "f") -> str:
    """A record as a line of COPY into the rows table (``again``: "t" when the number repeats
    one an earlier batch wrote)."""
    phone, country, zone, name, language, time_zone, opted_out, fields, row = r
    # The phone, country and zone never need escaping; JSON escapes tabs and newlines itself.
    name = _copy_text(name) if name is not None else "\\N"
    extras = (
        f"{_copy_text(language)}\t{_copy_text(time_zone)}\t{'t' if opted_out else 'f'}"
        if language is not None or time_zone is not None or opted_out
        else "\\N\t\\N\tf"
    )
    if "\\" in fields:
        fields = fields.replace("\\", "\\\\")
    return f"{phone}\t{country}\t{zone}\t{name}\t{extras}\t{fields}\t{row}\t{again}\n"


# The contacts' columns a batch COPYs straight into a new book (contact_line's order).
_CONTACT_COLUMNS = (
    "workspace_id, phone, country, name, fields, language, time_zone, opted_out_at, "
    "opt_out_source, opt_out_note, created_at, updated_at, bulk_loaded"
)


def contact_line(r: Record, head: str, stamp: str, bulk: str) -> str:
    """A contact as a line of COPY into the contacts (``_CONTACT_COLUMNS``), ``head`` being the
    workspace and a tab, ``bulk`` bulk_loaded ("t" or "f"); the values as ``_upsert_sql``'s
    INSERT ... SELECT makes them."""
    phone, country, zone, name, language, time_zone, opted_out, fields, _ = r
    name = _copy_text(name) if name else ""
    if "\\" in fields:
        fields = fields.replace("\\", "\\\\")
    language = _copy_text(language) if language else ""
    zone = _copy_text(time_zone) if time_zone is not None else zone
    opted = f"{stamp}\timport" if opted_out else "\\N\t"
    return (
        f"{head}{phone}\t{country}\t{name}\t{fields}\t{language}\t{zone}\t{opted}\t\t"
        f"{stamp}\t{stamp}\t{bulk}\n"
    )


class StreamingWriter:
    """PostgreSQL: COPYs each batch into the rows table and upserts it, inside the caller's
    transaction, on a thread of its own while the caller checks the next batch.

    Into a new book (``Target.new_book``) without a list to fill, the numbers this import has
    not written yet are COPYed straight into the contacts, under a savepoint: the rows table
    and its INSERT ... SELECT cost more (a replay of the bench's 900,000 contacts: 34.8 ->
    32.5 s of the server's CPU). A number someone added meanwhile rolls the COPY back, and
    that batch and the rest go through the rows table as in any other book.

    The thread runs its statements on the connection's psycopg connection (thread-safe;
    Django's wrapper is not used from the thread); the caller must not use the connection
    until ``finish``. ``write`` and ``finish`` raise what went wrong in the thread."""

    def __init__(self, target: Target):
        self.target = target

    def __enter__(self) -> StreamingWriter:
        with connection.cursor() as cursor:
            _create_rows_table(cursor, self.target)
            # Foreign keys checked by each statement rather than all at the commit, so that
            # work overlaps with reading too instead of following it.
            self._foreign_keys = deferrable_foreign_keys(
                cursor, Contact._meta.db_table, ListMember._meta.db_table
            )
            if self._foreign_keys:
                cursor.execute(f"SET CONSTRAINTS {self._foreign_keys} IMMEDIATE")
        # Into a new book, the numbers this import has not written yet are plain INSERTs.
        self._insert = _upsert_sql(self.target, rows="NOT t.again", upsert=False)
        self._fresh = self.target.new_book
        self._upsert = {
            True: _upsert_sql(self.target, rows="t.again"),
            False: _upsert_sql(self.target),
        }
        statements = []
        if self.target.list_id is not None:
            statements.append(_membership_sql(self.target))
        self._statements = [*statements, f"TRUNCATE {_ROWS}"]
        self._params = {"stamp": self.target.stamp_value}
        # Straight into the contacts: a new book, and no list whose members come from the
        # rows table.
        self._direct = self._fresh and self.target.list_id is None
        self._head = f"{int(self.target.workspace_id)}\t"
        self._stamp = str(self.target.stamp_value)
        self._copy = f"COPY {Contact._meta.db_table} ({_CONTACT_COLUMNS}) FROM STDIN"
        self._created = 0  # the contacts the new book's INSERTs and COPYs created
        self._raw = connection.connection
        self._storer = BatchThread("crier-upsert", self._store)
        return self

    def _store(self, batch: tuple) -> None:
        with self._raw.cursor() as cursor:
            self._store_batch(cursor, *batch)

    def _store_batch(self, cursor, text: str, contacts: str, new: list[str]) -> None:
        """``text``: the batch as lines of the rows table; or, into a new book, ``contacts``
        (its new numbers as lines of the contacts, ``new`` the same as lines of the rows
        table) and ``text`` the repeated numbers."""
        if contacts and self._fresh:
            try:
                with self._raw.transaction(), cursor.copy(self._copy) as copy:  # a savepoint
                    copy.write(contacts)
            except psycopg.errors.UniqueViolation:
                self._fresh = False  # someone else writes this book: upsert from now on
            else:
                self._created += len(new)
                new = []
        if new:
            text = "".join(new) + text
        if not text:
            return
        with cursor.copy(f"COPY {_ROWS} FROM STDIN") as copy:
            copy.write(text)
        self._upsert_batch(cursor, again_only=not new and bool(contacts))
        for sql in self._statements:
            cursor.execute(sql, self._params if "%(" in sql else None)

    def _upsert_batch(self, cursor, again_only: bool = False) -> None:
        if again_only:  # the batch's new numbers were COPYed into the contacts
            cursor.execute(self._upsert[False], self._params)
            return
        if self._fresh:
            try:
                with self._raw.transaction():  # a savepoint
                    cursor.execute(self._insert, self._params)
            except psycopg.errors.UniqueViolation:
                self._fresh = False  # someone else writes this book: upsert from now on
            else:
                self._created += cursor.rowcount
                cursor.execute(self._upsert[True], self._params)
                return
        cursor.execute(self._upsert[False], self._params)

    takes_records = False  # but lines of COPY text (contacts.checking.Checked)

    def contact_line_maker(self) -> Callable[[Record], str] | None:
        """What makes a record a line of COPY into the contacts, when this writer COPYs a new
        book's contacts straight in; else None."""
        if not self._direct:
            return None
        bulk = "t" if self.target.bulk else "f"
        return functools.partial(contact_line, head=self._head, stamp=self._stamp, bulk=bulk)

    def write(self, checked) -> None:
        """Queues a batch (contacts.checking.Checked)."""
        self._storer.raise_if_failed()
        if not checked.lines and not checked.again:
            return
        repeated = "".join(checked.again)
        if checked.contacts and self._fresh:
            # In number order (each line starts with the workspace, then the number): the
            # (workspace, phone) index is then walked once, not at random.
            contacts = "".join(sorted(checked.contacts))
            self._storer.put((repeated, contacts, checked.lines))
        else:
            self._storer.put(("".join(checked.lines) + repeated, "", []))

    def created(self) -> int | None:
        """How many contacts the import created, when the writer knows it without counting
        them: into a new book that nobody else wrote meanwhile, every contact it wrote is
        one it created (the repeated numbers update those); None otherwise."""
        return self._created if self._fresh and self.target.new_book else None

    def finish(self) -> None:
        self._storer.finish()
        if self._foreign_keys:
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {self._foreign_keys} DEFERRED")

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc is not None:  # the transaction is going: a batch still waiting need not go in
            self._storer.drop_waiting()
        self._storer.stop()
        if self._storer.error is not None and exc is not self._storer.error:
            # A failed statement aborts the transaction, and whatever the caller ran next on
            # it failed for that reason: the statement's error is the one worth reporting.
            raise self._storer.error


def streaming(target: Target) -> StreamingWriter:
    return StreamingWriter(target)


# SQLite's page cache while the spool is upserted (2 MB by default): every batch of random
# numbers walks the whole (workspace, phone) index, which for a million contacts is ~40 MB.
_CACHE_KIB = 64 * 1024


@contextlib.contextmanager
def _page_cache(cursor, kib: int):
    cursor.execute("PRAGMA cache_size")
    (previous,) = cursor.fetchone()
    cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")


class SpooledWriter:
    """Elsewhere (SQLite): keeps the batches in a temporary file until ``flush_to`` upserts
    them in the caller's short transaction at the end."""

    _PER_STATEMENT = 500

    def __init__(self):
        self._spool = None
        self._batches = 0

    def __enter__(self) -> SpooledWriter:
        self._spool = tempfile.TemporaryFile()
        return self

    takes_records = True  # contacts.checking.Checked holds records, not lines

    def contact_line_maker(self) -> None:
        return None

    def write(self, checked) -> None:
        if records := checked.lines + checked.again:
            pickle.dump(records, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
            self._batches += 1

    def flush_to(self, target: Target) -> None:
        """Upserts the spooled batches, with multi-row INSERTs straight into the contacts;
        through the rows table when a mapped time zone needs it."""
        self._spool.seek(0)
        with connection.cursor() as cursor, _page_cache(cursor, _CACHE_KIB):
            if "time_zone" in target.mapped:
                self._through_rows_table(cursor, target)
                return
            stamp = target.stamp_value
            statements: dict[int, str] = {}
            for _ in range(self._batches):
                records = sorted(pickle.load(self._spool))  # by phone: the index in order
                for start in range(0, len(records), self._PER_STATEMENT):
                    chunk = records[start : start + self._PER_STATEMENT]
                    sql = statements.get(len(chunk))
                    if sql is None:
                        sql = statements[len(chunk)] = _upsert_sql(target, len(chunk))
                    cursor.execute(sql, [v for r in chunk for v in _values_params(r, stamp)])
                    if target.list_id is not None:
                        _add_to_list(cursor, target, [r[0] for r in chunk])

    def _through_rows_table(self, cursor, target: Target) -> None:
        sql = _upsert_sql(target)
        params = {"stamp": target.stamp_value}
        row_sql = "(" + ", ".join(["%s"] * len(Record._fields)) + ")"
        _create_rows_table(cursor, target)
        for _ in range(self._batches):
            records = pickle.load(self._spool)
            for start in range(0, len(records), self._PER_STATEMENT):
                chunk = records[start : start + self._PER_STATEMENT]
                cursor.execute(
                    f"INSERT INTO {_ROWS} VALUES " + ", ".join([row_sql] * len(chunk)),
                    [value for record in chunk for value in record],
                )
            _store_batch(cursor, target, sql, params)
            cursor.execute(f"DELETE FROM {_ROWS}")
        cursor.execute(f"DROP TABLE {_ROWS}")

    def finish(self) -> None:
        pass

    def created(self) -> None:
        return None  # counted at the end (counts)

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self._spool.close()


def spooled(_target=None) -> SpooledWriter:
    return SpooledWriter()


def counts(target: Target) -> tuple[int, int]:
    """(created, updated): the workspace's contacts stamped with the import's start."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(CASE WHEN created_at = %(stamp)s THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN created_at <> %(stamp)s THEN 1 ELSE 0 END), 0) "
            f"FROM {Contact._meta.db_table} WHERE workspace_id = {int(target.workspace_id)} "
            "AND updated_at = %(stamp)s",
            {"stamp": target.stamp_value},
        )
        created, updated = cursor.fetchone()
    return int(created), int(updated)
