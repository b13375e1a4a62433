"""Time the contact book's pages over 1,000,000 contacts in PostgreSQL, with the indexes of
contacts/migrations/0004_book_indexes.py and without them, side by side in one run: each
round times a page with them, then again inside a transaction that drops them and is rolled
back, so both sides share the machine's load.

    .venv/bin/python bench/contacts_pages.py [--layout imported|written] [--reseed]
        [--rounds 40] [--with-only]

The book: 1,000,000 contacts (COPY) with two custom fields (city, a choice of 12; age, a
number), 95 % Kazakh numbers and the rest Turkish and British, 2 % opted out, 60 % delivered to
in the last year; lists of 500,000, 300,000, 100,000 and 1,000 members. Prints p50 and p95 of
the contacts page (plain, sorted, filtered by list and by a small country, paged), the searches
(a whole number typed nationally, part of a number, a name, a field value), a 3-rule segment's
live count, the segments page and one of its counts (each loaded by itself), and the lists
page. A segment's count on these pages is estimated from a sample of the book where an exact
one would read much of it (contacts.counting); the exact count they gave before, which
"Count exactly" still gives, is timed beside it. Targets, with the indexes: p95 <= 100 ms each
(issue #17); the contacts page and a segment's count p95 <= 50 ms (issue #20).

The book is laid out as the product leaves it (``--layout``):

  imported  (the default) as a big import into an empty book leaves it: its contacts
            ``bulk_loaded``, out of the table's GINs, and the book's own two GINs built after
            (contacts.search_indexes.build, what the import's task runs); "without" drops
            those too
  written   as contacts written one by one or by small imports leave it: in the table's GINs
            (the only layout measured before contacts 0008; the bench's COPY then bypassed
            ``bulk_loaded``, so it measured that layout whatever an import would now make)

Each layout has its own database (postgres://postgres@127.0.0.1:5432/crier_h_book_imported and
crier_h_book; BENCH_POSTGRES_URL overrides it), seeded once and reused by later runs; a
database of the other layout is refused. --reseed makes it afresh (bench/benchdb.py). DEBUG is
off.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LAYOUTS = ("imported", "written")
BOOKS = {
    "imported": "postgres://postgres@127.0.0.1:5432/crier_h_book_imported",
    "written": "postgres://postgres@127.0.0.1:5432/crier_h_book",
}
POSTGRES = BOOKS["written"]  # set by environment() for the layout
CONTACTS = 1_000_000
USERNAME = "bench"
CITIES = ["Almaty", "Astana", "Shymkent", "Karaganda", "Aktobe", "Taraz", "Pavlodar",
          "Oskemen", "Semey", "Atyrau", "Kostanay", "Oral"]  # fmt: skip
FIRST = ["Aigerim", "Erlan", "Dana", "Timur", "Saule", "Arman", "Madina", "Nurlan", "Aliya",
         "Ruslan", "Zarina", "Daniyar", "Ann", "Bob", "Cem", "Elif"]  # fmt: skip
LAST = ["Akhmetov", "Bekova", "Seitkali", "Omarov", "Marsh", "Nurlanova", "Kim", "Li",
        "Yilmaz", "Smith", "Iskakov", "Tokayeva"]  # fmt: skip
LISTS = {"Customers": 500_000, "Newsletter": 300_000, "VIP": 100_000, "Trial": 1_000}


def database_exists(layout: str = "written") -> bool:
    import psycopg

    url = book_url(layout)
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def book_url(layout: str) -> str:
    return os.environ.get("BENCH_POSTGRES_URL", BOOKS[layout])


def _contacts(workspace_id: int, bulk_loaded: bool):
    """The COPY rows of the book, deterministic."""
    rng = random.Random(17)
    now = datetime.now(UTC)
    for n in range(CONTACTS):
        if n % 20 == 19:
            phone, country = (f"+90532{n:07d}", "TR") if n % 40 == 19 else (f"+447400{n:06d}", "GB")
        else:
            phone, country = f"+7701{n:07d}", "KZ"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if n % 10 else ""
        city, age = rng.choice(CITIES), rng.randint(18, 80)
        fields = f'{{"city": "{city}", "age": {age}}}'
        opted = now - timedelta(days=n % 300) if n % 50 == 7 else None
        delivered = now - timedelta(days=rng.randint(0, 365)) if n % 5 < 3 else None
        created = now - timedelta(minutes=CONTACTS - n)
        yield (workspace_id, phone, country, name, fields, "", "", opted,
               "manual" if opted else "", "", delivered, delivered, created, created,
               bulk_loaded)  # fmt: skip


def seed(layout: str) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from contacts import search_indexes
    from contacts.models import Contact, ContactField, ContactList, FieldKind, Segment
    from workspaces.models import Membership, Role, Workspace

    started = time.perf_counter()
    user = get_user_model().objects.create_user(USERNAME, password="bench")
    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    ContactField.objects.create(
        workspace=workspace, key="city", label="City", kind=FieldKind.CHOICE, choices=CITIES
    )
    ContactField.objects.create(workspace=workspace, key="age", label="Age", kind=FieldKind.NUMBER)
    columns = ("workspace_id, phone, country, name, fields, language, time_zone, opted_out_at, "
               "opt_out_source, opt_out_note, last_sent_at, last_delivered_at, created_at, "
               "updated_at, bulk_loaded")  # fmt: skip
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in _contacts(workspace.pk, layout == "imported"):
                copy.write_row(row)
        print(f"  contacts in {time.perf_counter() - started:.0f} s", flush=True)
        for offset, (name, size) in enumerate(LISTS.items()):
            contact_list = ContactList.objects.create(workspace=workspace, name=name)
            cursor.execute(
                "INSERT INTO contacts_membership (contact_list_id, contact_id, added_at) "
                "SELECT %s, id, now() FROM contacts_contact WHERE workspace_id = %s "
                "AND id %% %s = 0 ORDER BY id LIMIT %s",
                [contact_list.pk, workspace.pk, offset + 1, size],
            )
    vip = ContactList.objects.get(workspace=workspace, name="VIP")
    Segment.objects.create(workspace=workspace, name="Almaty VIPs over 40", conditions=_rules(vip))
    Segment.objects.create(
        workspace=workspace,
        name="Recently delivered in Astana",
        conditions={"match": "all", "rules": [
            {"field": "field:city", "op": "is", "value": "Astana"},
            {"field": "delivered", "op": "within_days", "value": "90"},
        ]},
    )  # fmt: skip
    if layout == "imported":
        built = time.perf_counter()
        search_indexes.build(workspace.pk)
        print(f"  the book's own indexes in {time.perf_counter() - built:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)


def _rules(vip) -> dict:
    return {
        "match": "all",
        "rules": [
            {"field": "field:city", "op": "is", "value": "Almaty"},
            {"field": "field:age", "op": "gt", "value": "40"},
            {"field": "list", "op": "in", "value": str(vip.pk)},
        ],
    }


class _Undone(Exception):
    pass


def _call(client, method: str, url: str, data, headers, without: bool) -> float:
    """One request's time in ms; ``without``: inside a transaction that drops the indexes of
    0004 (and the book's own, when imported) first and is rolled back after, so both sides are
    timed in turns, under one load."""
    call = client.post if method == "POST" else client.get
    if not without:
        started = time.perf_counter()
        call(url, data, headers=headers)
        return (time.perf_counter() - started) * 1000
    from django.db import connection, transaction

    try:
        with transaction.atomic():
            _indexes(connection, create=False)
            started = time.perf_counter()
            call(url, data, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            raise _Undone
    except _Undone:
        return elapsed


def _time(client, method: str, url: str, rounds: int, data=None, headers=None):
    """(p50, p95) with the indexes and (p50, p95) without them, taken in turns."""
    for without in (False, True):
        for _ in range(2):
            _call(client, method, url, data, headers, without)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for without in (False, True):
            times[without].append(_call(client, method, url, data, headers, without))
    return [p50_p95(times[without]) for without in (False, True)]


def p50_p95(times: list[float]) -> tuple[float, float]:
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def _pages():
    from django.urls import reverse

    from contacts.models import ContactList, Segment

    vip = ContactList.objects.get(name="VIP")
    trial = ContactList.objects.get(name="Trial")
    segment = Segment.objects.get(name="Almaty VIPs over 40")
    astana = Segment.objects.get(name="Recently delivered in Astana")
    page = reverse("contact_list")
    htmx = {"HX-Request": "true"}
    count_form = {"name": segment.name, "action": "count", "match": "all"}
    count_form.update(
        {key: [r[key] for r in segment.conditions["rules"]] for key in ("field", "op", "value")}
    )
    return [
        ("contacts page", "GET", page, None, None),
        ("  sorted by name", "GET", page + "?sort=name", None, None),
        ("  newest updated first", "GET", page + "?sort=-updated", None, None),
        ("  filtered: list VIP (100,000)", "GET", f"{page}?list={vip.pk}", None, None),
        ("  filtered: list Trial (1,000)", "GET", f"{page}?list={trial.pk}", None, None),
        ("  filtered: country TR", "GET", page + "?country=TR", None, None),
        ("  page 100", "GET", page + "?page=100", None, None),
        ("search: whole number, national", "GET", page + "?q=8+701+050+00+01", None, None),
        ("search: part of a number", "GET", page + "?q=%2B7701050", None, None),
        ("search: name", "GET", page + "?q=marsh", None, None),
        ("search: a name nobody has", "GET", page + "?q=zzzq", None, None),
        ("search: field city = Oral", "GET", page + "?field=city&value=Oral", None, None),
        ("search: field age = 80", "GET", page + "?field=age&value=80", None, None),
        ("search: an age nobody has (200)", "GET", page + "?field=age&value=200", None, None),
        ("segment live count (3 rules)", "POST",
         reverse("segment_edit", args=[segment.pk]), count_form, htmx),
        ("  counted exactly (before: always)", "POST",
         reverse("segment_edit", args=[segment.pk]), {**count_form, "action": "count_exact"},
         htmx),
        ("segments page", "GET", reverse("segment_list"), None, None),
        ("  its count of a 2-rule segment", "GET",
         f"{reverse('segment_list')}?count={astana.pk}", None, htmx),
        ("  counted exactly (before: always)", "GET",
         f"{reverse('segment_list')}?count={astana.pk}&exact=1", None, htmx),
        ("lists page (900,000 members)", "GET", reverse("list_index"), None, None),
    ]  # fmt: skip


def measure(rounds: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    print(f"{'page':36} {'with p50':>9} {'p95':>7} {'without p50':>12} {'p95':>7} "
          f"{'p95 ratio':>9}  targets #17 #20")  # fmt: skip
    for label, method, url, data, headers in _pages():
        (p50, p95), (q50, q95) = _time(client, method, url, rounds, data, headers)
        flag = "" if p95 <= 100 else "  over"
        print(
            f"{label:36} {p50:9.1f} {p95:7.1f} {q50:12.1f} {q95:7.1f} {q95 / p95:8.1f}x{flag}",
            flush=True,
        )


def measure_with(rounds: int) -> None:
    """With the indexes only; a count and its exact twin (the row after it) in turns."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    print(f"{'page':36} {'p50':>7} {'min':>7} {'p95':>7} {'max':>7}  targets #17 #20")
    pages = _pages()
    while pages:
        group = pages[:2] if "exactly" in (pages[1:2] or [("",)])[0][0] else pages[:1]
        pages = pages[len(group) :]
        times: list[list[float]] = [[] for _ in group]
        for round_ in range(rounds + 2):
            for n, (_, method, url, data, headers) in enumerate(group):
                elapsed = _call(client, method, url, data, headers, without=False)
                if round_ >= 2:  # two to warm up
                    times[n].append(elapsed)
        for (label, *_), taken in zip(group, times, strict=True):
            p50, p95 = p50_p95(taken)
            print(
                f"{label:36} {p50:7.1f} {min(taken):7.1f} {p95:7.1f} {max(taken):7.1f}", flush=True
            )


def _indexes(connection, create: bool) -> None:
    """The search indexes made (as migrated, and the book's own where it has bulk-loaded
    contacts) or dropped (inside the caller's transaction)."""
    from contacts import search_indexes
    from workspaces.models import Workspace

    migration = importlib.import_module("contacts.migrations.0004_book_indexes")
    workspace = Workspace.objects.get(name="Bench")
    if create:  # IF NOT EXISTS: 0008's partial GINs stay as they are
        with connection.schema_editor(atomic=False) as editor:
            migration.create(None, editor)
        search_indexes.build(workspace.pk)  # nothing where none is bulk-loaded or all exist
        return
    with connection.schema_editor(atomic=False) as editor:
        migration.drop(None, editor)
        for name in search_indexes.names(workspace.pk):
            editor.execute(f"DROP INDEX IF EXISTS {name}")


def layout_of() -> str:
    """The book's layout as seeded: whether its contacts are bulk-loaded."""
    from contacts.models import Contact

    return "imported" if Contact.objects.filter(bulk_loaded=True).exists() else "written"


def check_layout(layout: str) -> None:
    found = layout_of()
    if found != layout:
        sys.exit(f"The book at {POSTGRES} is laid out {found}, not {layout}: --reseed it.")


def environment(layout: str = "written") -> None:
    """Django's settings for the book's database, DEBUG off (before django.setup)."""
    global POSTGRES
    POSTGRES = book_url(layout)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        CRIER_VAR_DIR=str(Path(tempfile.gettempdir()) / "crier-bench-book"),
        LOG_LEVEL="WARNING",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=POSTGRES,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=LAYOUTS, default="imported")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--with-only",
        action="store_true",
        help="time with the indexes only, each count in turns with its exact twin",
    )
    args = parser.parse_args()
    environment(args.layout)
    fresh = args.reseed or not database_exists(args.layout)
    if fresh:
        from bench.benchdb import fresh_postgres

        fresh_postgres(POSTGRES)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if fresh:
        print(f"seeding {CONTACTS:,} contacts, {args.layout}…", flush=True)
        seed(args.layout)
    check_layout(args.layout)
    from django.db import connection

    _indexes(connection, create=True)  # as migrated; a run stopped midway rolled back
    load = os.getloadavg()
    indexes = "0004_book_indexes" + (" and the book's own" if args.layout == "imported" else "")
    sides = (
        f"with the indexes of {indexes} only"
        if args.with_only
        else f"with and without the indexes of {indexes} in turns"
    )
    print(f"book: {args.layout}; load: {load[0]:.2f} {load[1]:.2f}; {args.rounds} rounds each, "
          f"{sides}; ms")  # fmt: skip
    (measure_with if args.with_only else measure)(args.rounds)


if __name__ == "__main__":
    main()
