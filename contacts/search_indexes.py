"""The search indexes of a book a big import loaded into an empty workspace (issue #17).

The contacts table's two GIN indexes (a trigram over the upper-cased name, ``jsonb_path_ops``
over the custom fields: contacts 0004) cost about 15 s of the server's CPU when a million
contacts are imported, kept row by row. An import of at least ``BULK_ROWS`` rows into an empty
book (PostgreSQL) marks the contacts it COPYs ``Contact.bulk_loaded``; the table's GINs leave
such contacts out (``WHERE NOT bulk_loaded``, contacts 0007), and once the import has
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

Several hundred bulk-loaded books mean several hundred pairs of partial indexes, each
considered in planning any query on the contacts; and CREATE INDEX CONCURRENTLY reads the
whole table twice, whoever's rows are in it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

from contacts.models import Contact

# Below this many rows the table's GINs are kept row by row, as for any import: a small book
# would cost a pair of indexes for a second of the server's time.
BULK_ROWS = 100_000

# The workspace's own indexes: name -> how (the table's GINs of 0004 without the workspace
# column, which is constant in each).
INDEXES = {
    "contact_name_trigram_w{}": "gin (upper(name) gin_trgm_ops)",
    "contact_fields_gin_w{}": "gin (fields jsonb_path_ops)",
}


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
    and made again. Runs outside a transaction (CREATE INDEX CONCURRENTLY); a second build
    for the same workspace waits for the first and finds its indexes there."""
    built: list[str] = []
    if connection.vendor != "postgresql":
        return built
    table = Contact._meta.db_table
    workspace_id = int(workspace_id)
    with connection.cursor() as cursor:
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


def _valid(cursor, name: str) -> bool | None:
    """Whether the index ``name`` is usable; None when there is none."""
    cursor.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
        [name],
    )
    row = cursor.fetchone()
    return None if row is None else row[0]
