"""Time a campaign's audience from the contact book on PostgreSQL: the live count the compose
page shows and the launch snapshot into messages, side by side with today's file import of the
same numbers.

    .venv/bin/python bench/audience.py [--contacts 1000000] [--excluded 100000] [--rounds 3]
        [--layout imported|written]

Seeds a fresh database (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/
crier_h_aud, dropped and created) by COPY with ``--contacts`` contacts (a city field each), a
segment "country is KZ" matching all of them and an exclusion list of ``--excluded`` of them.
``--layout imported`` (the default) lays the book out as a big import into an empty book
leaves it since contacts 0008 (the contacts ``bulk_loaded``, the book's own GINs built after,
contacts.search_indexes); ``written`` as written one by one (in the table's GINs), the only
layout this bench measured before (its COPY left ``bulk_loaded`` false).
Each round times, for a new campaign drawing on the segment minus the list:

- ``count``: campaigns.audiences.count (reached, and the drops by reason), what compose shows;
- ``snapshot``: campaigns.audiences.snapshot and its commit, what launch adds to its
  transaction (the INSERT ... SELECT of every reached contact, the counters trigger included);
- ``file import``: campaigns.recipients.imports.run of a CSV of the same numbers with their
  name and city, into another new campaign (what a campaign costs without the contact book).

Targets: count <= 1 s, snapshot <= 10 s. Medians over the rounds, and the ratio to the import.
Beside the wall clock, each figure gives the CPU seconds of the PostgreSQL backend that ran it
(where the server runs on this machine): on a shared machine the wall clock depends on the
neighbours, the CPU seconds much less.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import fresh_postgres  # noqa: E402 - after the path is set

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_h_aud")
CITIES = ["Almaty", "Astana", "Shymkent", "Karaganda", "Aktobe"]


def phone(n: int) -> str:
    return f"+7701{n:07d}"


def seed(workspace, contacts: int, excluded: int, bulk_loaded: bool):
    """The contacts by COPY (``bulk_loaded``: as a big import, with the book's own indexes
    built after); the list's memberships and the segment by SQL."""
    from django.db import connection

    from contacts import search_indexes
    from contacts.models import ContactField, ContactList, Segment

    ContactField.objects.create(workspace=workspace, key="city", label="City")
    with connection.cursor() as cursor:
        copy_sql = (
            "COPY contacts_contact (workspace_id, phone, country, name, fields, language, "
            "time_zone, opt_out_source, opt_out_note, created_at, updated_at, bulk_loaded) "
            "FROM STDIN"
        )
        with cursor.connection.cursor().copy(copy_sql) as copy:
            for n in range(contacts):
                city = CITIES[n % len(CITIES)]
                copy.write_row(
                    (
                        workspace.pk,
                        phone(n),
                        "KZ",
                        f"Person {n}",
                        f'{{"city": "{city}"}}',
                        "ru",
                        "Asia/Almaty",
                        "",
                        "",
                        "now",
                        "now",
                        bulk_loaded,
                    )
                )
        staff = ContactList.objects.create(workspace=workspace, name="Excluded")
        cursor.execute(
            "INSERT INTO contacts_membership (contact_list_id, contact_id, added_at) "
            "SELECT %s, id, now() FROM contacts_contact WHERE workspace_id = %s "
            "ORDER BY id LIMIT %s",
            [staff.pk, workspace.pk, excluded],
        )
    if bulk_loaded:
        search_indexes.build(workspace.pk)  # what the import's task runs after its commit
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    segment = Segment.objects.create(
        workspace=workspace,
        name="Kazakhstan",
        conditions={"match": "all", "rules": [{"field": "country", "op": "is", "value": "KZ"}]},
    )
    return segment, staff


def new_campaign(workspace, account, segment, staff, name: str):
    from campaigns.models import Campaign

    campaign = Campaign.objects.create(
        workspace=workspace, name=name, account=account, text="Hi {name} from {city}"
    )
    campaign.audience_segments.add(segment)
    campaign.exclusion_lists.add(staff)
    return campaign


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


class Backend:
    """CPU seconds of this connection's PostgreSQL backend (None when it runs elsewhere)."""

    def __init__(self):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]

    def seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def spent(self, fn):
        """(wall seconds, backend CPU seconds or None, fn's result)."""
        before = self.seconds()
        wall, result = timed(fn)
        after = self.seconds()
        return wall, (after - before if None not in (before, after) else None), result


def file_of(numbers: list[int], folder: Path) -> Path:
    path = folder / "audience.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "name", "city"])
        for n in numbers:
            writer.writerow([phone(n), f"Person {n}", CITIES[n % len(CITIES)]])
    return path


def import_file(workspace, account, path: Path, name: str) -> tuple[float, int]:
    from django.core.files import File

    from campaigns.models import Campaign
    from campaigns.recipients import imports

    campaign = Campaign.objects.create(
        workspace=workspace, name=name, account=account, text="Hi {name} from {city}"
    )
    with path.open("rb") as source:
        imp = imports.create(campaign, None, upload=File(source, name=path.name))
    imports.confirm(imp, "add")
    seconds, _ = timed(lambda: imports.run(imp.pk))
    imp.refresh_from_db()
    return seconds, imp.accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--excluded", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layout", choices=("imported", "written"), default="imported")
    args = parser.parse_args()

    fresh_postgres(POSTGRES)
    os.environ.update(
        DATABASE_URL=POSTGRES,
        CRIER_VAR_DIR=tempfile.mkdtemp(prefix="crier-audience-"),
        DJANGO_SETTINGS_MODULE="crier.settings",
        LOG_LEVEL="WARNING",
        DEBUG="false",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from campaigns import audiences
    from providers.models import ProviderAccount
    from workspaces.models import Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    account = ProviderAccount(workspace=workspace, provider="bsg", name="Bench BSG")
    account.credentials = {"api_key": "bench_key_not_used_1234"}
    account.save()
    seconds, (segment, staff) = timed(
        lambda: seed(workspace, args.contacts, args.excluded, args.layout == "imported")
    )
    print(
        f"seeded {args.contacts:,} contacts ({args.layout}), a segment of all, an exclusion "
        f"list of {args.excluded:,} in {seconds:.1f} s",
        flush=True,
    )
    figures: dict[str, list[float]] = {"count": [], "snapshot": [], "file import": []}
    cpu: dict[str, list[float]] = {"count": [], "snapshot": [], "file import": []}
    backend = Backend()
    with tempfile.TemporaryDirectory() as folder:
        path = file_of(list(range(args.excluded, args.contacts)), Path(folder))
        for n in range(args.rounds):
            campaign = new_campaign(workspace, account, segment, staff, f"Round {n}")
            seconds, used, counted = backend.spent(lambda c=campaign: audiences.count(c))
            figures["count"].append(seconds)
            cpu["count"].append(used)

            def snapshot(c=campaign):
                with transaction.atomic():
                    return audiences.snapshot(c)

            seconds, used, stored = backend.spent(snapshot)
            figures["snapshot"].append(seconds)
            cpu["snapshot"].append(used)
            seconds, used, (imported_s, imported) = backend.spent(
                lambda n=n: import_file(workspace, account, path, f"File {n}")
            )
            figures["file import"].append(imported_s)
            cpu["file import"].append(used)
            print(
                f"round {n + 1}: count {figures['count'][-1]:.3f} s ({counted.reached:,} "
                f"reached, {counted.dropped.get('excluded', 0):,} excluded)  snapshot "
                f"{figures['snapshot'][-1]:.2f} s ({stored:,} messages)  file import "
                f"{imported_s:.2f} s ({imported:,} messages)  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\nmedians of {args.rounds} rounds on PostgreSQL ({args.contacts:,} contacts):")
    for name, target in (("count", 1.0), ("snapshot", 10.0), ("file import", None)):
        ratio = (
            f"  {medians[name] / medians['file import']:.2f}x the file import"
            if name != "file import"
            else ""
        )
        used = [value for value in cpu[name] if value is not None]
        spent = f"  (PostgreSQL CPU {statistics.median(used):.2f} s)" if used else ""
        goal = ""
        if target is not None:
            goal = f"  target <= {target:g} s: {'met' if medians[name] <= target else 'MISSED'}"
        print(f"  {name:<12} {medians[name]:7.3f} s{spent}{ratio}{goal}")


if __name__ == "__main__":
    main()
