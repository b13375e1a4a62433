"""Where a segment's count spends its time at 1,000,000 contacts (PostgreSQL), and what would
change it: each count timed in three shapes, in turns, under one load.

    .venv/bin/python bench/segment_counts.py [--layout imported|written] [--rounds 20] [--plans]

It reads the book of bench/contacts_pages.py in the same ``--layout`` (run that once first;
BENCH_POSTGRES_URL as there: "imported", the default, is a book a big import left bulk-loaded
with its own GINs built, as the product makes it since contacts 0008; "written" one in the
table's GINs, the only layout measured before) and counts three segments of it: city = Astana
(83,000 contacts); city = Astana and delivered to in the last 90 days; city = Almaty, age > 40
and in the list VIP. The shapes:

  today       the SQL contacts.segments emits: a containment the GIN over fields answers (the
              book's own when imported), then every candidate's row read from the table
              (Bitmap Heap Scan) to count it
  expression  a btree per custom field, ((fields -> key), id) WHERE workspace_id = N, and the
              SQL it serves: PostgreSQL still reads every matching row, since it answers no
              condition on an expression from the index alone (no index-only scan), and its
              bitmap scans read every page they find (recent minor releases disabled skipping
              the all-visible ones)
  side table  the values of the counted fields in a narrow table (field_id, value,
              contact_id) with its btree, and (workspace_id, last_delivered_at, id) on the
              contacts: every condition answered by an index-only scan

The extra indexes and table are built for the run (their build times are printed: what a field
would cost to index on this book) and dropped at its end. The table is VACUUM ANALYZEd first, so
the visibility map is as autovacuum leaves a quiet table; each count's plan is printed once with
its buffers (hit: in PostgreSQL's shared buffers; read: from outside them). Prints p50 and p95
in ms; target: p95 <= 100.

--upkeep times an import's writes with and without triggers keeping the side table (rolled
back, then VACUUM and REINDEX, which leave the book as it was); --crowd times planning and
inserts as the table gathers other workspaces' per-field indexes (on a copy of 20,000 rows).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import contacts_pages
from bench.contacts_pages import LAYOUTS, check_layout, database_exists, environment, p50_p95

SHAPES = ("today", "expression", "side table")
EXTRA = """
CREATE INDEX bench_city ON contacts_contact ((fields -> 'city'), id) WHERE workspace_id = %(ws)s;
CREATE INDEX bench_age ON contacts_contact ((fields -> 'age'), id) WHERE workspace_id = %(ws)s;
CREATE TABLE bench_field_values AS
    SELECT f.id AS field_id, c.fields -> f.key AS value, c.id AS contact_id
    FROM contacts_contact c JOIN contacts_contactfield f ON f.workspace_id = c.workspace_id
    WHERE c.workspace_id = %(ws)s AND c.fields ? f.key;
CREATE INDEX bench_field_value ON bench_field_values (field_id, value, contact_id);
ALTER TABLE bench_field_values ADD PRIMARY KEY (field_id, contact_id) INCLUDE (value);
CREATE INDEX bench_delivered ON contacts_contact (workspace_id, last_delivered_at, id);
"""
# Keeping the side table: statement triggers with transition tables, one set-based statement
# per write, for an INSERT and an UPDATE (an INSERT ... ON CONFLICT fires both).
UPKEEP = """
CREATE FUNCTION bench_values_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_field_values (field_id, value, contact_id)
    SELECT f.id, n.fields -> f.key, n.id FROM new_rows n
    JOIN contacts_contactfield f ON f.workspace_id = n.workspace_id AND n.fields ? f.key;
    RETURN NULL;
END $$;
CREATE TRIGGER bench_values_added AFTER INSERT ON contacts_contact
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bench_values_added();
CREATE FUNCTION bench_values_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM bench_field_values v USING old_rows o
    JOIN new_rows n ON n.id = o.id AND n.fields IS DISTINCT FROM o.fields
    JOIN contacts_contactfield f ON f.workspace_id = o.workspace_id
    WHERE v.field_id = f.id AND v.contact_id = o.id;
    INSERT INTO bench_field_values (field_id, value, contact_id)
    SELECT f.id, n.fields -> f.key, n.id FROM new_rows n
    JOIN old_rows o ON o.id = n.id AND n.fields IS DISTINCT FROM o.fields
    JOIN contacts_contactfield f ON f.workspace_id = n.workspace_id AND n.fields ? f.key;
    RETURN NULL;
END $$;
CREATE TRIGGER bench_values_changed AFTER UPDATE ON contacts_contact
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_values_changed();
"""
COLUMNS = (
    "phone, country, name, fields, language, time_zone, opted_out_at, opt_out_source, "
    "opt_out_note, last_sent_at, last_delivered_at, created_at, updated_at"
)
# An import's two writes into another workspace: new contacts, then the same numbers again
# with one field changed (as contacts.upsert's INSERT ... ON CONFLICT DO UPDATE).
ADD = (
    f"INSERT INTO contacts_contact (workspace_id, {COLUMNS}) SELECT %(into)s, {COLUMNS} "
    "FROM contacts_contact WHERE workspace_id = %(ws)s ORDER BY id LIMIT %(rows)s"
)
CHANGED = COLUMNS.replace("fields", """fields || '{"age": 99}'""")
CHANGE = (
    f"INSERT INTO contacts_contact (workspace_id, {COLUMNS}) SELECT %(into)s, {CHANGED} "
    "FROM contacts_contact WHERE workspace_id = %(ws)s ORDER BY id LIMIT %(rows)s "
    "ON CONFLICT (workspace_id, phone) DO UPDATE SET fields = EXCLUDED.fields, "
    "updated_at = EXCLUDED.updated_at"
)
DROP = """
DROP INDEX IF EXISTS bench_city, bench_age, bench_delivered;
DROP TABLE IF EXISTS bench_field_values;
"""


def _counts(ws: int, city: int, age: int, vip: int, since: datetime) -> dict[str, dict]:
    """{segment: {shape: (sql, params)}}; "today" is filled in from contacts.segments."""
    member = "SELECT contact_id FROM contacts_membership WHERE contact_list_id = %s"
    value = "SELECT contact_id FROM bench_field_values WHERE field_id = %s AND value "
    head = "SELECT count(*) FROM contacts_contact WHERE workspace_id = %s AND "
    return {
        "city = Astana": {
            "expression": (head + "(fields -> 'city') = '\"Astana\"'", [ws]),
            "side table": (
                "SELECT count(*) FROM bench_field_values "
                "WHERE field_id = %s AND value = '\"Astana\"'",
                [city],
            ),
        },
        "  and delivered in 90 days": {
            "expression": (
                head + "(fields -> 'city') = '\"Astana\"' AND last_delivered_at >= %s",
                [ws, since],
            ),
            "side table": (
                head + f"last_delivered_at >= %s AND id IN ({value} = '\"Astana\"')",
                [ws, since, city],
            ),
        },
        "Almaty, age > 40, in VIP": {
            "expression": (
                head + "(fields -> 'city') = '\"Almaty\"' AND (fields -> 'age') > '40' "
                f"AND id IN ({member})",
                [ws, vip],
            ),
            "side table": (
                "SELECT count(*) FROM bench_field_values a "
                "WHERE a.field_id = %s AND a.value = '\"Almaty\"' "
                f"AND a.contact_id IN ({member}) AND a.contact_id IN ({value} > '40')",
                [city, vip, age],
            ),
        },
    }


def _today(workspace, rules: list[dict]) -> tuple[str, list]:
    from contacts import segments
    from contacts.pages.segments import SEGMENT_COUNT_CAP

    members = segments.members(workspace, {"match": "all", "rules": rules})
    capped = members.order_by()[: SEGMENT_COUNT_CAP + 1]  # as search.capped_count reads it
    sql, params = capped.query.sql_with_params()
    return f"SELECT count(*) FROM ({sql}) counted", list(params)


def prepare():
    from django.db import connection

    from contacts.models import ContactField, ContactList
    from workspaces.models import Workspace

    workspace = Workspace.objects.get(name="Bench")
    fields = dict(ContactField.objects.filter(workspace=workspace).values_list("key", "pk"))
    vip = ContactList.objects.get(workspace=workspace, name="VIP").pk
    since = datetime.now(UTC) - timedelta(days=90)
    counts = _counts(workspace.pk, fields["city"], fields["age"], vip, since)
    city = {"field": "field:city", "op": "is"}
    rules = {
        "city = Astana": [{**city, "value": "Astana"}],
        "  and delivered in 90 days": [
            {**city, "value": "Astana"},
            {"field": "delivered", "op": "within_days", "value": "90"},
        ],
        "Almaty, age > 40, in VIP": [
            {**city, "value": "Almaty"},
            {"field": "field:age", "op": "gt", "value": "40"},
            {"field": "list", "op": "in", "value": str(vip)},
        ],
    }
    for label, shapes in counts.items():
        shapes["today"] = _today(workspace, rules[label])
    with connection.cursor() as cursor:
        cursor.execute(DROP)
        for statement in filter(str.strip, EXTRA.split(";")):
            started = time.perf_counter()
            cursor.execute(statement, {"ws": workspace.pk})
            name = " ".join(statement.split()[:3])
            print(f"  built {name}… in {time.perf_counter() - started:.1f} s", flush=True)
        for table in ("contacts_contact", "contacts_membership", "bench_field_values"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return counts


def _plan(sql: str, params: list) -> str:
    """The plan's nodes with their buffers, one line each."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql, params)
        lines = [row[0] for row in cursor.fetchall()]
    keep = ("->", "Aggregate", "Buffers", "Heap Fetches", "Heap Blocks")
    return "\n".join(f"      {line.strip()}" for line in lines if line.strip().startswith(keep))


def _once(sql: str, params: list) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(sql, params)
        cursor.fetchone()
        return (time.perf_counter() - started) * 1000


def _count(sql: str, params: list) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def measure(counts: dict, rounds: int) -> None:
    """p50 and p95 of each count in each shape, the shapes in turns; they must agree."""
    for label, shapes in counts.items():
        found = {_count(*shapes[shape]) for shape in SHAPES}
        assert len(found) == 1, f"{label}: the shapes disagree: {found}"
        times: dict[str, list[float]] = {shape: [] for shape in SHAPES}
        for _ in range(rounds):
            for shape in SHAPES:
                times[shape].append(_once(*shapes[shape]))
        print(f"{label:28} {found.pop():>8,}", end="")
        for shape in SHAPES:
            p50, p95 = p50_p95(times[shape])
            print(f"  {p50:7.1f} {p95:7.1f}", end="")
        print(flush=True)


def plans(counts: dict) -> None:
    for label, shapes in counts.items():
        for shape in SHAPES:
            print(f"\n{label.strip()}, {shape}:\n{_plan(*shapes[shape])}")


class _Undone(Exception):
    pass


def _import_once(rows: int, kept: bool) -> tuple[float, float]:
    """Seconds to add ``rows`` contacts to a new workspace and to change them all, with the
    side table kept by triggers or not; rolled back."""
    from django.db import connection, transaction

    from contacts.models import ContactField
    from workspaces.models import Workspace

    bench = Workspace.objects.get(name="Bench")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            into = Workspace.objects.create(name="Upkeep", default_country="KZ")
            for field in ContactField.objects.filter(workspace=bench):
                field.pk, field.workspace = None, into
                field.save()
            if kept:
                cursor.execute(UPKEEP)
            params = {"into": into.pk, "ws": bench.pk, "rows": rows}
            started = time.perf_counter()
            cursor.execute(ADD, params)
            added = time.perf_counter()
            cursor.execute(CHANGE, params)
            changed = time.perf_counter()
            raise _Undone
    except _Undone:
        return added - started, changed - added


def upkeep(rows: int) -> None:
    """An import's writes with and without the triggers keeping the side table, in turns;
    then the table and its indexes as they were (the rolled-back rows leave them grown)."""
    from django.db import connection

    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    try:
        for _ in range(2):
            for kept in (False, True):
                times[kept].append(_import_once(rows, kept))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE contacts_contact")
            cursor.execute("REINDEX TABLE contacts_contact")
    print(f"\nan import of {rows:,} contacts into another workspace (s, best of 2):")
    for kept in (False, True):
        add, change = (min(step) for step in zip(*times[kept], strict=True))
        label = "with the side table kept" if kept else "without"
        print(f"  {label:26} add {add:6.1f}  change one field of each {change:6.1f}")


CROWD = """
CREATE TABLE bench_crowd (LIKE contacts_contact INCLUDING DEFAULTS INCLUDING INDEXES);
INSERT INTO bench_crowd SELECT * FROM contacts_contact ORDER BY id LIMIT 20000;
CREATE TABLE bench_crowd_more AS SELECT * FROM contacts_contact ORDER BY id DESC LIMIT 20000;
ANALYZE bench_crowd;
"""
CROWD_COUNT = (
    "EXPLAIN (SUMMARY ON) SELECT count(*) FROM bench_crowd "
    """WHERE workspace_id = 1 AND fields @> '{"city": "Astana"}'"""
)


def crowd(sizes: list[int]) -> None:
    """What other workspaces' per-field indexes cost one workspace: a query's planning and an
    insert of 20,000 contacts into a 20,000-row copy of the table, as it gathers ``sizes``
    partial expression indexes (one per field of another workspace)."""
    from django.db import connection, transaction

    print("\nper-field indexes of other workspaces on the table (a 20,000-row copy):")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_crowd, bench_crowd_more")
        cursor.execute(CROWD)
        built = 0
        try:
            for size in [0, *sizes]:
                for n in range(built, size):
                    cursor.execute(
                        "CREATE INDEX ON bench_crowd ((fields -> %s), id) "
                        f"WHERE workspace_id = {-1 - n}",
                        [f"field{n}"],
                    )
                built = size
                planning, adding = [], []
                for _ in range(3):
                    cursor.execute(CROWD_COUNT)
                    summary = [row[0] for row in cursor.fetchall() if "Planning" in row[0]]
                    planning.append(float(summary[0].split()[2]))  # "Planning Time: x ms"
                    try:
                        with transaction.atomic():
                            started = time.perf_counter()
                            cursor.execute("INSERT INTO bench_crowd SELECT * FROM bench_crowd_more")
                            adding.append(time.perf_counter() - started)
                            raise _Undone
                    except _Undone:
                        pass
                print(
                    f"  {size:5} indexes: planning a count {min(planning):6.1f} ms, "
                    f"adding 20,000 contacts {min(adding) * 1000:6.0f} ms (best of 3)",
                    flush=True,
                )
        finally:
            cursor.execute("DROP TABLE IF EXISTS bench_crowd, bench_crowd_more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=LAYOUTS, default="imported")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--plans", action="store_true", help="print each count's plan too")
    parser.add_argument(
        "--crowd",
        metavar="N,N",
        help="time planning and inserts with N per-field indexes of other workspaces too",
    )
    parser.add_argument(
        "--upkeep", type=int, metavar="ROWS", help="time an import of ROWS contacts too"
    )
    args = parser.parse_args()
    environment(args.layout)
    if not database_exists(args.layout):
        sys.exit(f"No book at {contacts_pages.POSTGRES}: run bench/contacts_pages.py first.")
    import django

    django.setup()
    from django.db import connection

    check_layout(args.layout)

    print("building the extra indexes and table…", flush=True)
    counts = prepare()
    try:
        load = os.getloadavg()
        print(
            f"book: {args.layout}; load: {load[0]:.2f} {load[1]:.2f}; {args.rounds} rounds, "
            "shapes in turns; ms"
        )
        print(f"{'':37}" + "".join(f"  {shape:>15}" for shape in SHAPES))
        print(f"{'count':28} {'contacts':>8}" + "  {:>7} {:>7}".format("p50", "p95") * 3)
        measure(counts, args.rounds)
        if args.plans:
            plans(counts)
        if args.upkeep:
            upkeep(args.upkeep)
        if args.crowd:
            crowd([int(n) for n in args.crowd.split(",")])
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP)


if __name__ == "__main__":
    main()
