"""The search indexes of a book a big import loaded into an empty workspace (issue #17).

The contacts table's two GIN indexes (a trigram over the upper-cased name, ``jsonb_path_ops``
over the custom fields: contacts 0004) cost about 15 s of the server's CPU when a million
contacts are imported, kept row by row. An import of at least ``BULK_ROWS`` rows into an empty
book (PostgreSQL) marks the contacts it COPYs ``Contact.bulk_loaded``; the table's GINs leave
such contacts out (``WHERE NOT bulk_loaded``, contacts 0008), and once the import has
committed, ``build`` makes the workspace's own two GINs over them
(``WHERE workspace_id = N AND bulk_loaded``) with CREATE INDEX CONCURRENTLY, one sorted pass
each. The bench's million-row import: the import's server CPU 28.8 -> 18.8 s, the build
after it 8.5 s (docs/architecture.md).

No answer depends on the indexes, only speed: a search reads the same rows with or without
them, and every later write to a bulk-loaded contact (by hand, the API, another import) is
kept in whichever index covers its row. Until the workspace's own indexes exist, a search in
it reads its rows (``contact_bulk_loaded``, 0.3-0.7 s a million); other workspaces' searches
read the table's GINs as before. A condition the GINs answer is given both halves
(``searchable``): PostgreSQL only uses a partial index whose condition the query implies.

A build is lost if its task is (the broker down, the worker killed mid-build: then an invalid
index is left): beat's ``check`` (every 5 minutes) queues the build of every bulk-loaded book
whose own indexes are missing or invalid, and drops the own indexes of a workspace that has no
bulk-loaded contact left (deleted with its workspace, or emptied). It reads the partial btree
once per such book and the catalogue, never the table. A build or drop holds an advisory lock
on its workspace, so the check's build is skipped while the import's is under way (a second
CREATE INDEX CONCURRENTLY of the same name would wait for the first, then drop and make it
again).

Each pair of partial indexes is considered in planning any query on the contacts (1,000 partial
indexes were measured to take planning from 0.2 to 20 ms), so at most ``MAX_BOOKS`` books are
bulk-loaded (``room_for_a_book``); past it a big import keeps the table's GINs row by row, as a
small one does. CREATE INDEX CONCURRENTLY reads the whole table twice, whoever's rows are in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.models import Q

from contacts.models import Contact
from core.queue import enqueue

# Below this many rows the table's GINs are kept row by row, as for any import: a small book
# would cost a pair of indexes for a second of the server's time.
BULK_ROWS = 100_000

# At most this many bulk-loaded books (two partial indexes each, ~2 ms more to plan a query on
# the contacts at the bound); two imports deciding at once may pass it by one.
MAX_BOOKS = 50

# The workspace's own indexes: name -> how (the table's GINs of 0004 without the workspace
# column, which is constant in each).
INDEXES = {
    "contact_name_trigram_w{}": "gin (upper(name) gin_trgm_ops)",
    "contact_fields_gin_w{}": "gin (fields jsonb_path_ops)",
}


# pg_try_advisory_lock's first key (issue #17): a build or drop of a workspace's own indexes,
# the second key being the workspace.
LOCK = 2017

# The workspaces with bulk-loaded contacts, one probe of the partial btree contact_bulk_loaded
# each (a loose index scan: a DISTINCT would read all its million entries of a book).
BULK_LOADED_BOOKS = """
WITH RECURSIVE books(workspace_id) AS (
    (SELECT workspace_id FROM contacts_contact WHERE bulk_loaded ORDER BY 1 LIMIT 1)
    UNION ALL
    SELECT (
        SELECT c.workspace_id FROM contacts_contact c
        WHERE c.bulk_loaded AND c.workspace_id > b.workspace_id ORDER BY 1 LIMIT 1
    ) FROM books b WHERE b.workspace_id IS NOT NULL
)
SELECT workspace_id FROM books WHERE workspace_id IS NOT NULL
"""


def searchable(q: Q) -> Q:
    """``q``, a condition the name or fields GIN answers, said once for each half of the
    contacts on PostgreSQL (the same rows: ``bulk_loaded`` is never null), so that the
    planner can answer each half from its partial index and OR the two.

    Not ``q & (not bulk_loaded | bulk_loaded)``: PostgreSQL takes a factor common to every
    branch out of an OR, so rules OR-ed in a segment ("any") would become ``(q1 | q2) &
    (...)``, which no partial index answers (bench: 108 -> 624 ms). Each rule's own two
    branches keep every branch of such an OR distinct."""
    if connection.vendor != "postgresql":
        return q
    return (Q(bulk_loaded=False) & q) | (Q(bulk_loaded=True) & q)


def names(workspace_id: int) -> list[str]:
    return [name.format(int(workspace_id)) for name in INDEXES]


def build(workspace_id: int) -> list[str]:
    """Creates the workspace's own indexes over its bulk-loaded contacts where missing, and
    returns the names it created. An invalid one (a build that was interrupted) is dropped
    and made again. Runs outside a transaction (CREATE INDEX CONCURRENTLY); while another
    build or drop for the same workspace holds its lock, builds nothing."""
    built: list[str] = []
    if connection.vendor != "postgresql":
        return built
    table = Contact._meta.db_table
    workspace_id = int(workspace_id)
    with _locked(workspace_id) as locked, connection.cursor() as cursor:
        if not locked:  # being built (or dropped): that one finishes it
            return built
        for name, how in zip(names(workspace_id), INDEXES.values(), strict=True):
            valid = _valid(cursor, name)
            if valid:
                continue
            if valid is False:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING {how} "
                f"WHERE workspace_id = {workspace_id} AND bulk_loaded"
            )
            built.append(name)
    return built


def room_for_a_book() -> bool:
    """Whether one more book may be bulk-loaded (``MAX_BOOKS``): one probe per such book."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({BULK_LOADED_BOOKS} LIMIT %s) b", [MAX_BOOKS])
        return cursor.fetchone()[0] < MAX_BOOKS


def check() -> dict:
    """Beat's safety net (every 5 minutes): queues the build of every workspace with
    bulk-loaded contacts whose own indexes are missing or invalid, and drops those of
    workspaces with none left. Two cheap reads: the partial btree, once per bulk-loaded book
    (``BULK_LOADED_BOOKS``), and the catalogue."""
    if connection.vendor != "postgresql":
        return {"queued": 0, "dropped": 0}
    with connection.cursor() as cursor:
        cursor.execute(BULK_LOADED_BOOKS)
        books = {row[0] for row in cursor.fetchall()}
        valid = _own_indexes(cursor)
    due = sorted(w for w in books if valid.get(w, 0) < len(INDEXES))
    for workspace_id in due:
        enqueue("contacts.tasks.build_search_indexes", workspace_id)
    dropped = [w for w in sorted(valid.keys() - books) if drop(w)]
    return {"queued": len(due), "dropped": len(dropped)}


def drop(workspace_id: int) -> bool:
    """Drops the workspace's own indexes unless it has bulk-loaded contacts (again) or a
    build holds its lock; whether it dropped them."""
    workspace_id = int(workspace_id)
    with _locked(workspace_id) as locked, connection.cursor() as cursor:
        if not locked or _has_bulk_loaded(workspace_id):
            return False
        for name in names(workspace_id):
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    return True


def _has_bulk_loaded(workspace_id: int) -> bool:
    return Contact.objects.filter(workspace_id=workspace_id, bulk_loaded=True).exists()


def _own_indexes(cursor) -> dict[int, int]:
    """Workspace id -> how many of its own indexes exist and are valid (0 for only invalid
    ones), from their names."""
    pattern = "^({})$".format("|".join(name.format("[0-9]+") for name in INDEXES))
    cursor.execute(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND c.relname ~ %s",
        [Contact._meta.db_table, pattern],
    )
    valid: dict[int, int] = {}
    for name, is_valid in cursor.fetchall():
        workspace_id = int(name.rsplit("_w", 1)[1])
        valid[workspace_id] = valid.get(workspace_id, 0) + is_valid
    return valid


@contextmanager
def _locked(workspace_id: int) -> Iterator[bool]:
    """Whether this session took the workspace's build lock (held until the block ends, or
    the session does: a killed worker lets go of it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK, workspace_id])
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK, workspace_id])


def _valid(cursor, name: str) -> bool | None:
    """Whether the index ``name`` is usable; None when there is none."""
    cursor.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
        [name],
    )
    row = cursor.fetchone()
    return None if row is None else row[0]
