"""Time planning the cheapest route: `.venv/bin/python bench/routes.py [--recipients 1000000]
[--database-url postgres://postgres@127.0.0.1:5432/routebench] [--repeat 5]`.

Builds, in a fresh PostgreSQL database, a campaign of N recipients over 20 countries with a
two-part SMS text, on one of six accounts in EUR whose rate cards differ (country rates,
some prefix rates, some countries missing, one account limited to a few countries), then
times, side by side:
1. today's single-account estimate of the campaign (pricing.price, cheapest route off);
2. the cheapest route's plan (pricing.price, cheapest route on): the same grouped read, every
   candidate's card over the groups, the choice per country (target for 1,000,000: <= 5 s,
   with the sending windows' planning);
3. a worker's claim of one batch (1,000 messages) once the plan is launched, which is where
   the route is applied (the claim's UPDATE names the account), beside the same claim of the
   campaign without routes; each rolled back after. The launch rewrites no message: moving
   the plan's messages to their accounts there (one UPDATE per account) took 24-45 s of
   the launch request at 1,000,000.
Medians (and best) of --repeat runs.
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import django_on, load_messages  # noqa: E402

# Country, weight, how its numbers start (digits after the +).
COUNTRIES = [
    ("KZ", 30, ["7701", "7702", "7747", "7771", "7705"]),
    ("UZ", 12, ["99890", "99893", "99897"]),
    ("RU", 10, ["7916", "7926", "7903"]),
    ("BR", 6, ["5511", "5521"]),
    ("KG", 5, ["996555", "996700"]),
    ("TJ", 4, ["99292", "99293"]),
    ("AZ", 4, ["99450", "99455"]),
    ("GE", 3, ["99555", "99557"]),
    ("AM", 3, ["37491", "37493"]),
    ("TR", 3, ["90532", "90542"]),
    ("DE", 3, ["49151", "49160"]),
    ("FR", 2, ["33612", "33712"]),
    ("ES", 2, ["34612", "34712"]),
    ("IT", 2, ["39320", "39340"]),
    ("PL", 2, ["48501", "48601"]),
    ("UA", 2, ["38050", "38067"]),
    ("IN", 2, ["9198", "9199"]),
    ("AE", 2, ["97150", "97155"]),
    ("GB", 2, ["447700", "447800"]),
    ("US", 1, ["1212", "1415"]),
]
SENDER = "Bench"
TEXT = "Autumn sale: " + "everything must go! " * 10  # 213 GSM characters: two parts


def build(workspace, recipients: int):

    from campaigns.models import Campaign, references
    from campaigns.recipients import bulk
    from providers.models import ProviderAccount, Rate, SenderName

    rng = random.Random(19)
    accounts = []
    for i in range(6):
        account = ProviderAccount(
            workspace=workspace,
            provider="bsg",
            name=f"Bench {i}",
            currency="EUR",
            api_base_url="http://127.0.0.1:9",  # a closed port: nothing leaves the machine
            allowed_countries="KZ, UZ, KG" if i == 5 else "",
        )
        account.credentials = {"api_key": f"live_bench_{i}"}
        account.save()
        SenderName.objects.create(account=account, value=SENDER, status="approved")
        rates = []
        for country, _, starts in COUNTRIES:
            if i and rng.random() < 0.15:
                continue  # no rate for this country on this account
            base = Decimal(rng.randint(20, 90)) / 1000
            rates.append(Rate(account=account, country=country, price=base))
            if rng.random() < 0.3:  # a cheaper operator prefix
                rates.append(Rate(account=account, prefix=starts[0], price=base * Decimal("0.9")))
        Rate.objects.bulk_create(rates)
        accounts.append(account)
    campaign = Campaign.objects.create(
        workspace=workspace, name=f"Bench {recipients:,}", account=accounts[0], text=TEXT,
        sender=SENDER,
    )  # fmt: skip
    spool = io.StringIO()
    encode = bulk.FieldsEncoder({})
    chosen = rng.choices(COUNTRIES, [weight for _, weight, _ in COUNTRIES], k=recipients)
    for row, (reference, (country, _, starts)) in enumerate(
        zip(references(recipients), chosen, strict=True), 1
    ):
        start = rng.choice(starts)
        phone = "+" + start + "".join(rng.choices("0123456789", k=12 - len(start)))
        spool.write(bulk.spool_line(reference, phone, country, "mobile", row, encode([])))
    load_messages(campaign.pk, spool)
    return campaign


def timed(function, repeat: int) -> tuple[list[float], object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return timings, result


def figures(timings: list[float]) -> str:
    return f"median {statistics.median(timings):.2f} s, best {min(timings):.2f} s"


def claim_once(campaign) -> None:
    """One claim of the launched campaign, rolled back: the next run starts from the same
    rows."""
    from django.db import transaction

    from campaigns.sending import engine

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            assert engine.claim(campaign) is not None
            raise Undo
    except Undo:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/routebench")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        django_on(args.database_url, var, fresh=True)
        from django.conf import settings
        from django.db import connection

        from campaigns.compose import pricing
        from workspaces.models import Workspace

        print(f"database: {connection.vendor}; {os.cpu_count()} cores; load {os.getloadavg()}")
        workspace = Workspace.objects.create(name="Bench", default_country="KZ")
        started = time.perf_counter()
        campaign = build(workspace, args.recipients)
        print(
            f"{args.recipients:,} recipients in {len(COUNTRIES)} countries, 6 accounts "
            f"(built in {time.perf_counter() - started:.0f} s)"
        )
        campaign.cheapest_route = False
        single_times, single = timed(lambda: pricing.price(campaign), args.repeat)
        campaign.cheapest_route = True
        route_times, routed = timed(lambda: pricing.price(campaign), args.repeat)
        settings.CRIER_SEND_BATCH_SIZE = 1000
        campaign.estimate = {}
        plain_times, _ = timed(lambda: claim_once(campaign), args.repeat)
        campaign.estimate = {
            "routes": [{"country": r.country, "account": r.account} for r in routed.routes]
        }
        claim_times, _ = timed(lambda: claim_once(campaign), args.repeat)
        # The worst route to fill a batch of: each route's first 1,000 pending messages.
        from campaigns.models import Message
        from campaigns.sending.engine import on_route

        pending = Message.objects.filter(campaign=campaign, status="pending").order_by("pk")
        worst = 0.0
        for account in {r.account or campaign.account_id for r in routed.routes}:
            chosen = pending.filter(on_route(campaign, account, campaign.sender))
            times, _ = timed(lambda q=chosen: list(q.values_list("pk", flat=True)[:1000]), 3)
            worst = max(worst, statistics.median(times))
        ratio = statistics.median(route_times) / statistics.median(single_times)
        print(f"  single-account estimate (today): {figures(single_times)}")
        print(f"  cheapest-route plan:              {figures(route_times)} ({ratio:.2f}x)")
        print(f"  a claim of 1,000, no routes:      {figures(plain_times)}")
        claimed = statistics.median(claim_times) / statistics.median(plain_times)
        print(f"  a claim of 1,000, routed:         {figures(claim_times)} ({claimed:.2f}x)")
        print(f"  the slowest route's 1,000 ids:    median {worst:.3f} s")
        assert routed.messages == single.messages == args.recipients
        print(
            f"  {single.total:.2f} EUR through {campaign.account.name} alone, "
            f"{routed.total:.2f} EUR routed (single_total {routed.single_total:.2f}): "
            f"saves {routed.saving:.2f} EUR; {single.unpriced_messages:,} unpriced"
        )
        names = {a.pk: a.name for a in pricing.route_accounts(campaign, routed)}
        for route in routed.routes:
            print(
                f"    {route.country} -> {names.get(route.account, campaign.account.name):<8} "
                f"{route.messages:>9,} messages {route.cost:>12.2f} EUR"
            )


if __name__ == "__main__":
    main()
