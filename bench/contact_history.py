"""Time a contact's page (their messages across campaigns) and their erasure over 2,000,000
messages in PostgreSQL, with the ``message_phone`` index and without it, in one run.

    .venv/bin/python bench/contact_history.py [--campaigns 200] [--per-campaign 10000]
                                              [--rounds 30]

Seeds one workspace of ``--campaigns`` campaigns of ``--per-campaign`` messages each, the same
numbers in every campaign (so one contact has a message in each), with SQL (INSERT ... SELECT
generate_series). Prints p50 and p95 of the contact's page and of its second page, and the time
of an erasure rolled back, first with the index, then after DROP INDEX, and the time to build
the index again. Target: the page <= 100 ms at p95. The index's cost on a million-row import is
bench/import.py's to tell (run it on this commit and the one before).

PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/crier_bench_history (created afresh;
BENCH_POSTGRES_URL overrides it). DEBUG is off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import fresh_postgres  # noqa: E402 - after the path is set

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_history"
)
USERNAME = "bench"
PHONE = "+77010000042"  # the contact: in every campaign
FINISHED = ["delivered"] * 16 + ["undelivered", "expired", "rejected", "failed"]


def seed(campaigns: int, per_campaign: int) -> None:
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from campaigns.models import Campaign, Message
    from contacts.models import Contact
    from core.statuses import CampaignStatus
    from providers.models import ProviderAccount, Rate
    from workspaces.models import Membership, Role, Workspace

    started = time.perf_counter()
    user = get_user_model().objects.create_user(USERNAME, password="bench")
    workspace = Workspace.objects.create(name="Bench", currency="EUR")
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    account = ProviderAccount(workspace=workspace, provider="bsg", name="bsg", currency="EUR")
    account.credentials = {"api_key": "bench"}
    account.save()
    Rate.objects.create(account=account, country="KZ", price=Decimal("0.0350"))
    Campaign.objects.bulk_create(
        Campaign(
            workspace=workspace,
            name=f"Campaign {i:04d}",
            account=account,
            text="Hello {name}, offer number " + str(i),
            status=CampaignStatus.COMPLETED,
        )
        for i in range(campaigns)
    )
    Contact.objects.create(workspace=workspace, phone=PHONE, name="Ann", country="KZ")
    status = " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(FINISHED))
    insert = (
        f"INSERT INTO {Message._meta.db_table} (campaign_id, reference, phone, country, "
        "number_type, row_number, fields, status, attempt, provider_message_id, raw_status, "
        "error_code, error_reason, created_at, updated_at) "
        "SELECT c.id, md5(c.id::text || '-' || g::text), '+7701' || lpad(g::text, 7, '0'), "
        "'KZ', 'mobile', g, jsonb_build_object('name', 'Ann ' || g), "
        f"CASE (g + c.id) %% {len(FINISHED)} {status} END, 1, 'p' || c.id || '-' || g, '', '', "
        "'', now(), now() FROM campaigns_campaign c, generate_series(0, %s) g "
        "WHERE c.id = ANY(%s)"
    )
    ids = list(Campaign.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 20):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(insert, [per_campaign - 1, ids[start : start + 20]])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  seeded {len(ids) * per_campaign:,} messages in {time.perf_counter() - started:.0f} s")


def _time(client, url: str, rounds: int) -> tuple[float, float]:
    for _ in range(2):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(int(len(times) * 0.95) - 1, 0)]


def _erase_seconds() -> float:
    """One erasure of the contact, rolled back."""
    from django.db import transaction

    from campaigns import contact_history
    from contacts.models import Contact

    contact = Contact.objects.get(phone=PHONE)
    started = time.perf_counter()
    with transaction.atomic():
        erasure = contact_history.erase(contact, None)
        transaction.set_rollback(True)
    assert erasure.messages > 0
    return time.perf_counter() - started


def measure(label: str, rounds: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from contacts.models import Contact

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    url = reverse("contact_detail", args=[Contact.objects.get(phone=PHONE).pk])
    first = _time(client, url, rounds)
    second = _time(client, url + "?page=2", rounds)
    erase = statistics.median(_erase_seconds() for _ in range(3))
    print(
        f"{label:<16} page p50 {first[0]:7.1f} ms  p95 {first[1]:7.1f} ms   "
        f"page 2 p50 {second[0]:7.1f} ms  p95 {second[1]:7.1f} ms   erase {erase * 1000:8.1f} ms",
        flush=True,
    )
    return {"p95": first[1], "erase": erase}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--per-campaign", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        CRIER_VAR_DIR=tempfile.mkdtemp(prefix="crier-bench-history-"),
        LOG_LEVEL="WARNING",
        DEBUG="false",
        DATABASE_URL=POSTGRES,
        ALLOWED_HOSTS="testserver",
    )
    fresh_postgres(POSTGRES)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    seed(args.campaigns, args.per_campaign)
    indexed = measure("with the index", args.rounds)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX message_phone")
        cursor.execute("ANALYZE campaigns_message")
    bare = measure("without it", max(3, args.rounds // 5))
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute('CREATE INDEX message_phone ON campaigns_message ("phone")')
        built = time.perf_counter() - started
    print(
        f"without / with: page p95 {bare['p95'] / indexed['p95']:.0f}x, "
        f"erase {bare['erase'] / indexed['erase']:.0f}x; "
        f"building the index over the messages took {built:.1f} s"
    )


if __name__ == "__main__":
    main()
