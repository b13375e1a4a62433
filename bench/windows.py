"""Time sending windows: `.venv/bin/python bench/windows.py [--recipients 1000000] [--repeat 3]`.

1. Planning a campaign of N recipients over 20 time zones (target for 1,000,000: <= 5 s):
   finding the recipients per zone key at launch (campaigns.windows.assign_zones: one query
   grouped by number prefix, each distinct prefix looked up once) and simulating the
   preview's per-hour plan at zone granularity. Beside it, the same zones found number by
   number with phonenumbers (timed on a sample, scaled to N): the way it was not done.
2. Beat's per-tick cost (engine.dispatch_due) with 0, 10 and 100 campaigns waiting for their
   window, which sleep until it opens (Campaign.next_attempt_at); beside it, the same tick if
   they did not sleep: each handed to a worker whose claim finds nothing open.
3. One claim of a batch from the N-recipient campaign with a window (``time_zone IN (...)``)
   against the same claim without one.

Medians of --repeat runs (ticks: of 30). PostgreSQL at
postgres://postgres@127.0.0.1:5432/winbench, created afresh (BENCH_POSTGRES_URL overrides it).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import django_on, load_messages  # noqa: E402 - after the path is set

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/winbench")
WINDOW = "Mon-Fri 09:00-20:00; Sat 10:00-18:00"
# Monday 2026-12-07 02:00 UTC: 07:00 in Almaty, before its window opens.
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def prefixes(count: int) -> list[tuple[str, str, str]]:
    """(country, prefix, zone key) for ``count`` number prefixes of distinct zone keys, from
    Russia, Kazakhstan and Brazil (their zones span 11 hours and more)."""
    import phonenumbers
    from phonenumbers import tzdata

    found: dict[str, tuple[str, str]] = {}
    for prefix, zones in sorted(tzdata.TIMEZONE_DATA.items()):
        key = " ".join(sorted(zones))
        if len(prefix) == 4 and prefix[:1] in ("7", "5") and prefix[:2] != "56":
            number = phonenumbers.parse(f"+{prefix}0000000")
            region = phonenumbers.region_code_for_number(number) or "RU"
            found.setdefault(key, (region, prefix))
    chosen = list(found.items())[:count]
    return [(region, prefix, key) for key, (region, prefix) in chosen]


def build(workspace, recipients: int, zones: list[tuple[str, str, str]]) -> int:

    from campaigns.models import Campaign, references
    from campaigns.recipients import bulk

    campaign = Campaign.objects.create(
        workspace=workspace, name=f"Windows {recipients:,}", text="Hi", send_window=WINDOW
    )
    rng = random.Random(19)
    spool = io.StringIO()
    encode = bulk.FieldsEncoder({})
    for row, reference in enumerate(references(recipients), 1):
        country, prefix, _key = rng.choice(zones)
        phone = "+" + prefix + "".join(rng.choices("0123456789", k=11 - len(prefix)))
        spool.write(bulk.spool_line(reference, phone, country, "mobile", row, encode([])))
    load_messages(campaign.pk, spool)
    return campaign.pk


def median(timings: list[float]) -> float:
    return statistics.median(timings)


def time_planning(campaign_pk: int, recipients: int, repeat: int) -> None:
    import phonenumbers
    from phonenumbers import timezone as pzones

    from campaigns import windows
    from campaigns.models import Campaign, Message

    assigning, planning = [], []
    for _ in range(repeat):
        campaign = Campaign.objects.select_related("workspace").get(pk=campaign_pk)
        started = time.perf_counter()
        counts = windows.assign_zones(campaign)
        assigning.append(time.perf_counter() - started)
        started = time.perf_counter()
        plan = windows.plan(windows.rules_for(campaign, NOW), counts, per_hour=100_000)
        planning.append(time.perf_counter() - started)
    total = [a + p for a, p in zip(assigning, planning, strict=True)]
    phones = list(
        Message.objects.filter(campaign_id=campaign_pk).values_list("phone", flat=True)[:20_000]
    )
    started = time.perf_counter()
    for phone in phones:
        pzones.time_zones_for_number(phonenumbers.parse(phone))
    per_number = (time.perf_counter() - started) / len(phones) * recipients
    print(
        f"planning {recipients:,} recipients in {len(counts)} zone keys: "
        f"zones found {median(assigning):.2f} s + plan {median(planning) * 1e3:.0f} ms = "
        f"{median(total):.2f} s median (target <= 5 s); "
        f"number by number with phonenumbers {per_number:.1f} s "
        f"({per_number / median(assigning):.0f}x the zones step, lookups alone)"
    )
    print(f"  plan: last goes {plan.last_at:%a %H:%M} UTC, never {plan.never}, per local hour "
          f"{[n for n in plan.per_hour if n][:6]}...")  # fmt: skip


def waiting_campaigns(workspace, account, count: int) -> list[int]:
    """``count`` sending campaigns of 1,000 Almaty recipients each, asleep until 09:00 there."""
    from campaigns import windows
    from campaigns.models import Campaign, Message
    from campaigns.sending import engine

    pks = []
    for n in range(count):
        campaign = Campaign.objects.create(
            workspace=workspace,
            account=account,
            name=f"Waiting {n}",
            text="Hi",
            sender="Bench",
            status="sending",
            send_window=WINDOW,
        )
        Message.objects.bulk_create(
            Message(campaign=campaign, phone=f"+7727{i:07d}", country="KZ") for i in range(1000)
        )
        windows.assign_zones(campaign)
        assert engine.claim(campaign) is None  # nothing open: it sleeps until the window
        pks.append(campaign.pk)
    return pks


def time_ticks(workspace, account, repeat: int) -> None:
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.sending import engine

    made: list[int] = []
    print("beat's tick with campaigns waiting for their window (median of 30 ticks):")
    for count in (0, 10, 100):
        made += waiting_campaigns(workspace, account, count - len(made))
        # As autovacuum would between ticks: the "if they did not sleep" ticks below update
        # every waiting campaign thirty times, and the dead rows they leave would be read by
        # the next count's asleep ticks (1.3 -> 4.1 ms from 0 to 100 before this).
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Campaign._meta.db_table}")
        asleep = _ticks(lambda: engine.dispatch_due(lambda pk: None))
        Campaign.objects.filter(pk__in=made).update(next_attempt_at=None)
        awake = _ticks(lambda: _tick_without_sleep(engine))
        print(
            f"  {count:>3} waiting: asleep {asleep * 1e3:7.2f} ms; "
            f"if they did not sleep {awake * 1e3:8.2f} ms ({awake / asleep:.0f}x)"
        )
        for pk in made:  # asleep again, as the engine leaves them
            engine.claim(Campaign.objects.select_related("workspace", "account").get(pk=pk))


def _tick_without_sleep(engine) -> None:
    """A tick if waiting campaigns were not asleep: each handed out, claimed, released."""
    from campaigns.models import Campaign

    handed: list[int] = []
    engine.dispatch_due(handed.append)
    for pk in handed:
        campaign = Campaign.objects.select_related("workspace", "account").get(pk=pk)
        engine.claim(campaign)
        engine.release(pk)
    Campaign.objects.filter(pk__in=handed).update(next_attempt_at=None)


def _ticks(tick) -> float:
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        tick()
        timings.append(time.perf_counter() - started)
    return median(timings)


def time_claim(campaign_pk: int, account, repeat: int) -> None:
    from django.db import transaction

    from campaigns.models import Campaign
    from campaigns.sending import engine

    results = {}
    for label, window in (("with a window", WINDOW), ("without one", "always")):
        Campaign.objects.filter(pk=campaign_pk).update(
            send_window=window, account=account, status="sending", sender="Bench"
        )
        campaign = Campaign.objects.select_related("workspace", "account").get(pk=campaign_pk)
        timings = []
        for _ in range(repeat):
            with transaction.atomic():
                started = time.perf_counter()
                taken = engine.claim(campaign)
                timings.append(time.perf_counter() - started)
                transaction.set_rollback(True)
        results[label] = median(timings)
        assert taken is not None
    with_window, without = results["with a window"], results["without one"]
    print(
        f"one claim of a batch from the big campaign: with a window {with_window * 1e3:.1f} ms, "
        f"without {without * 1e3:.1f} ms ({with_window / without:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        django_on(POSTGRES, var, fresh=True)
        import time_machine
        from django.conf import settings

        from providers.models import ProviderAccount
        from workspaces.models import Workspace

        settings.CRIER_SEND_BATCH_SIZE = 1000
        print(f"{os.cpu_count()} cores; load {os.getloadavg()}")
        workspace = Workspace.objects.create(name="Bench", time_zone="Asia/Almaty")
        account = ProviderAccount(
            workspace=workspace, provider="bsg", name="Bench", api_base_url="http://127.0.0.1:9"
        )
        account.credentials = {"api_key": "live_bench"}
        account.save()
        zones = prefixes(20)
        with time_machine.travel(NOW, tick=True):
            started = time.perf_counter()
            campaign_pk = build(workspace, args.recipients, zones)
            print(f"{args.recipients:,} recipients built in {time.perf_counter() - started:.0f} s")
            time_planning(campaign_pk, args.recipients, args.repeat)
            time_claim(campaign_pk, account, args.repeat)
            time_ticks(workspace, account, args.repeat)


if __name__ == "__main__":
    main()
