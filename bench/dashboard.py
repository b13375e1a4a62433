"""Time the dashboard's pages over a big workspace: 1,000 campaigns of 1,000 messages each and one
campaign of 1,000,000 by itself (2,000,000 message rows) in PostgreSQL.

    .venv/bin/python bench/dashboard.py [--reseed] [--rounds 40] [--poll] [--search-only]
                                        [--refill]

Prints p50 and p95 for the campaign list (plain, searched and sorted by delivery rate), a
campaign page (a small one, the big one, the big one filtered by status), the live partial
and the overview. Targets (issue #20) at p95: the campaign list <= 20 ms, a campaign page
<= 25 ms, the live partial <= 10 ms, the overview <= 25 ms.
Then the big campaign's recipient table searched for one of its numbers typed whole in three
formats, by its end, by its start, a common start and a number it does not hold, each timed
before #20 (any number holding the digits, RecipientFilter.apply as it was), by reading the
messages (the search while the campaign's number index is incomplete) and through the number
index (campaigns.number_index), a round of each in turn. Target (#20): <= 30 ms at p95 for
every format. --search-only times just that. The big campaign's number index is filled first
when it is not complete (or afresh with --refill), its wall time, PostgreSQL CPU and size
printed.
With --poll it also times one tracking cycle: campaigns.tracking.polling.apply_statuses() applying
100,000 status reports to the big campaign.

The database (postgres://postgres@127.0.0.1:5432/crier_bench_dash; BENCH_POSTGRES_URL overrides
it) is seeded once with SQL (INSERT ... SELECT generate_series: the counters' triggers run
once per statement) and reused by later runs; --reseed makes it afresh. DEBUG is off.
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
POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_dash"
)
CAMPAIGNS = 1_000
PER_CAMPAIGN = 1_000
BIG = 1_000_000
USERNAME = "bench"

# Message statuses of a finished campaign, by share (per 20 messages).
FINISHED = ["delivered"] * 16 + ["undelivered", "expired", "rejected", "failed"]
# Of the big campaign, caught while it is being delivered.
LIVE = ["delivered"] * 9 + ["sent"] * 5 + ["queued"] * 3 + ["pending", "undelivered", "failed"]


def _database_exists(create: bool) -> bool:
    import psycopg

    admin_url = POSTGRES.rsplit("/", 1)[0] + "/postgres"
    name = POSTGRES.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if create:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    return bool(exists)


def _status_case(statuses: list[str], column: str) -> str:
    whens = " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(statuses))
    return f"(CASE {column} %% {len(statuses)} {whens} END)"


def seed() -> None:
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.models import Campaign, CounterSnapshot, Message
    from core.statuses import CampaignStatus
    from providers.models import ProviderAccount
    from workspaces.models import Membership, Role, Workspace

    started = time.perf_counter()
    user = get_user_model().objects.create_user(USERNAME, password="bench")
    workspace = Workspace.objects.create(name="Bench", currency="EUR")
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    accounts = []
    for slug, currency in [
        ("bsg", "EUR"),
        ("mobizon", "KZT"),
        ("smsdrop", "XOF"),
        ("conpeek", "PLN"),
    ]:
        account = ProviderAccount(
            workspace=workspace, provider=slug, name=slug, currency=currency,
            balance=Decimal("1234.5"), balance_checked_at=timezone.now(),
        )  # fmt: skip
        account.credentials = {"api_key": "bench", "login": "bench", "password": "bench"}
        account.save()
        accounts.append(account)
    now = timezone.now()
    campaigns = [
        Campaign(
            workspace=workspace,
            name=f"Campaign {i:04d} {'spring' if i % 3 else 'autumn'} sale",
            account=accounts[i % 4],
            sender="Bench",
            text=f"Hello {{name}}, offer number {i}",
            status=CampaignStatus.COMPLETED if i % 50 else CampaignStatus.SENDING,
            launched_at=now - timedelta(hours=i),
            completed_at=now - timedelta(hours=i) + timedelta(hours=1) if i % 50 else None,
            estimate={
                "total": "35.00",
                "currency": accounts[i % 4].currency,
                "messages": PER_CAMPAIGN,
                "segments": PER_CAMPAIGN,
            },
        )
        for i in range(CAMPAIGNS)
    ]
    campaigns.append(
        Campaign(
            workspace=workspace,
            name="The big one",
            account=accounts[0],
            sender="Bench",
            text="Hello",
            status=CampaignStatus.SENDING,
            launched_at=now - timedelta(hours=4),
            estimate={"total": "35000.00", "currency": "EUR", "messages": BIG, "segments": BIG},
        )
    )
    Campaign.objects.bulk_create(campaigns)
    table = Message._meta.db_table
    insert = (
        f"INSERT INTO {table} (campaign_id, reference, phone, country, number_type, row_number, "
        "fields, status, attempt, provider_message_id, raw_status, error_code, error_reason, "
        "created_at, updated_at) "
        # Numbers of 7 digits after +7701: a campaign's run of them overlaps its neighbours'.
        "SELECT c.id, md5(c.id::text || '-' || g::text), "
        "'+7701' || lpad(((c.id * 1000003 + g) %% 10000000)::text, 7, '0'), 'KZ', 'mobile', g, "
        "jsonb_build_object('name', 'Ann ' || g), {status}, 1, 'p' || g, '', '', '', now(), now() "
        "FROM campaigns_campaign c, generate_series(1, %s) g WHERE c.id = ANY(%s)"
    )
    small = [c.pk for c in campaigns[:-1]]
    with transaction.atomic(), connection.cursor() as cursor:
        for chunk in range(0, len(small), 100):
            cursor.execute(
                insert.format(status=_status_case(FINISHED, "g")),
                [PER_CAMPAIGN, small[chunk : chunk + 100]],
            )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert.format(status=_status_case(LIVE, "g")), [BIG, [campaigns[-1].pk]])
    print(f"  messages in {time.perf_counter() - started:.0f} s", flush=True)
    snapshots = []
    for campaign in campaigns:
        steps = 480 if campaign.name == "The big one" else 12
        size = BIG if campaign.name == "The big one" else PER_CAMPAIGN
        for step in range(1, steps + 1):
            done = size * step // steps
            counts = dict.fromkeys(("pending", "submitting", "queued", "sent"), 0)
            counts.update({"delivered": done * 8 // 10, "undelivered": done // 20})
            counts.update({"expired": 0, "rejected": 0, "cancelled": 0, "unknown": 0})
            counts["failed"] = done // 20
            counts["sent"] = done - sum(counts.values())
            counts["pending"] = size - done
            snapshots.append(
                CounterSnapshot(
                    campaign=campaign,
                    taken_at=campaign.launched_at + timedelta(seconds=30 * step),
                    counts=counts,
                    cost=Decimal(done) * Decimal("0.035"),
                )
            )
    CounterSnapshot.objects.bulk_create(snapshots, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_campaigncounters SET cost = delivered * 0.035, currency = 'EUR'"
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)


def _time(client, url: str, rounds: int, headers=None) -> tuple[float, float, int]:
    for _ in range(3):
        client.get(url, headers=headers)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], response.status_code


def measure(rounds: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from campaigns.models import Campaign

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    big = Campaign.objects.get(name="The big one")
    small = Campaign.objects.filter(status="completed").order_by("pk")[500]
    htmx = {"HX-Request": "true"}
    lst, page = reverse("campaign_list"), reverse("campaign_detail", args=[big.pk])
    pages = [
        ("campaign list", lst, None, 20),
        ("campaign list, searched", lst + "?q=spring&status=completed", None, 20),
        ("campaign list, by delivery rate", lst + "?sort=-rate&page=3", None, 20),
        ("campaign list, partial", lst + "?sort=cost", htmx, 20),
        ("campaign page (1,000)", reverse("campaign_detail", args=[small.pk]), None, 25),
        ("campaign page (1,000,000)", page, None, 25),
        ("  filtered: delivered", page + "?status=delivered", None, 25),
        ("  filtered: failed, page 50", page + "?status=failed&page=50", None, 25),
        ("live partial (1,000,000)", reverse("campaign_progress", args=[big.pk]), htmx, 10),
        ("overview", reverse("overview"), None, 25),
    ]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {rounds} rounds each")
    print(f"{'page':36} {'p50 ms':>8} {'p95 ms':>8} {'target':>7}")
    for label, url, headers, target in pages:
        p50, p95, status = _time(client, url, rounds, headers)
        flag = "" if p95 <= target else "  over"
        print(f"{label:36} {p50:8.1f} {p95:8.1f} {target:>7}{flag}  [{status}]", flush=True)


def _searches(big) -> list[tuple[str, str]]:
    """One number of the big campaign typed as people type it, whole and in part."""
    phone = big.messages.get(row_number=654_321).phone  # +7701XXXXXXX
    national = phone[2:]
    return [
        ("(no search: the table alone)", ""),
        ("+7 701 123-45-67", f"+7 {national[:3]} {national[3:6]}-{national[6:8]}-{national[8:]}"),
        ("8 (701) 1234567", f"8 ({national[:3]}) {national[3:]}"),
        ("77011234567", phone[1:]),
        ("1234567 (its end)", phone[-7:]),
        ("4567 (its end)", phone[-4:]),
        ("701 123 (its start)", f"{national[:3]} {national[3:6]}"),
        ("+7 701 (every number's start)", "+7 701"),
        ("701 (in every number)", "701"),
        ("77012345 (in no number)", "77012345"),
    ]


def _apply_before(self, campaign):
    """RecipientFilter.apply as it was before #20: the number as an import stores it, or any
    number holding the typed digits."""
    from django.db.models import Q

    from campaigns.models import Message
    from core import phones

    messages = Message.objects.filter(campaign=campaign)
    if self.status:
        messages = messages.filter(status=self.status)
    if self.search:
        found = phones.normalise(self.search, campaign.workspace.default_country)
        whole = Q(phone=found.e164) if isinstance(found, phones.Normalised) else Q()
        messages = messages.filter(whole | Q(phone__contains=self.search))
    return messages.order_by("pk")


def fill_number_index(refill: bool) -> None:
    """The big campaign's number index, filled unless complete (afresh with ``refill``)."""
    from django.db import connection

    from bench.benchdb import backend_cpu
    from campaigns import number_index
    from campaigns.models import Campaign, NumberIndex

    big = Campaign.objects.get(name="The big one")
    if refill:
        NumberIndex.objects.filter(campaign=big).update(built_at=None)
    cpu, started = backend_cpu(), time.perf_counter()
    result = number_index.fill(big.pk)
    elapsed, cpu = time.perf_counter() - started, backend_cpu() - cpu
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('campaigns_messagedigits')")
        size = cursor.fetchone()[0] / 2**20
    load = os.getloadavg()[0]
    print(
        f"number index: {result} in {elapsed:.1f} s, PostgreSQL CPU {cpu:.1f} s, "
        f"table and index {size:.0f} MiB; load {load:.2f}",
        flush=True,
    )


def measure_search(rounds: int) -> None:
    """The big campaign searched for a number in several formats, before #20, by reading the
    messages and through the number index, one round of each in turn."""
    from urllib.parse import urlencode

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from campaigns import number_index
    from campaigns.models import Campaign
    from campaigns.pages.queries import RecipientFilter

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    big = Campaign.objects.get(name="The big one")
    page = reverse("campaign_detail", args=[big.pk])
    now, indexed = RecipientFilter.apply, number_index.holding
    ways = {
        # No index for RecipientFilter.page_ids to take a page's ids from: as before #20.
        "before": (_apply_before, lambda *args: None),
        "messages": (now, lambda *args: None),  # as while the index is incomplete
        "index": (now, indexed),
    }
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {rounds} rounds each")
    heads = " ".join(f"{way + ' p50':>13} {'p95':>6}" for way in ways)
    print(f"{'search 1,000,000, typed':30} {heads}")
    for label, typed in _searches(big):
        url = page + ("?" + urlencode({"q": typed}) if typed else "")
        times: dict = {way: [] for way in ways}
        for round in range(rounds + 3):
            for way, (apply, holding) in ways.items():
                RecipientFilter.apply, number_index.holding = apply, holding
                started = time.perf_counter()
                response = client.get(
                    url, headers={"HX-Request": "true", "HX-Target": "recipients"}
                )
                if round >= 3:
                    times[way].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        RecipientFilter.apply, number_index.holding = now, indexed
        figures = []
        for measured in times.values():
            measured.sort()
            figures += [statistics.median(measured), measured[int(len(measured) * 0.95) - 1]]
        cells = " ".join(f"{f:{w}.1f}" for f, w in zip(figures, (13, 6) * 3, strict=True))
        print(f"{label:30} {cells}{'' if figures[5] <= 30 else '  over'}", flush=True)


def poll_cycle() -> None:
    """One tracking cycle: 100,000 reports applied to the big campaign."""
    try:
        from campaigns.tracking.polling import apply_statuses
    except ImportError:
        print("poll cycle: campaigns.tracking.polling.apply_statuses is not there yet")
        return
    from campaigns.models import Campaign
    from providers.base import MessageStatusReport

    big = Campaign.objects.get(name="The big one")
    rows = big.messages.filter(status__in=["sent", "queued"]).values_list("reference", "status")
    reports = [
        MessageStatusReport(status="delivered", raw_status="DELIVRD", final=True, reference=ref)
        for ref, _ in rows[:100_000]
    ]
    started = time.perf_counter()
    changed = apply_statuses(big, reports)
    elapsed = time.perf_counter() - started
    print(f"poll cycle: {len(reports):,} reports, {changed:,} changed in {elapsed:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--poll", action="store_true")
    parser.add_argument("--search-only", action="store_true")
    parser.add_argument("--refill", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        CRIER_VAR_DIR=str(Path(tempfile.gettempdir()) / "crier-bench-dash"),
        LOG_LEVEL="WARNING",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=POSTGRES,
    )
    existed = _database_exists(create=args.reseed)
    if not existed:
        _database_exists(create=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.reseed or not existed:
        print("seeding 2,000,000 messages…", flush=True)
        seed()
    if not args.search_only:
        measure(args.rounds)
    fill_number_index(args.refill)
    measure_search(args.rounds)
    if args.poll:
        poll_cycle()


if __name__ == "__main__":
    main()
