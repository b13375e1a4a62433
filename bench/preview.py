"""Time the price of a template campaign: `.venv/bin/python bench/preview.py [--recipients N]`.

Builds, in a fresh SQLite database under a temporary folder, a campaign whose text has two
placeholders and N recipients (default 100,000) spread over four countries, on an account whose
rate card has countries and prefixes; then times campaigns.pricing.price(), which reads the
messages, renders every recipient's text, counts its parts and groups them per destination.
Target: 100,000 recipients in <= 1 s. Then times the live segment counter as the browser calls
it (target <= 50 ms server time).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Country, share of the recipients, how its numbers start.
DESTINATIONS = [
    ("KZ", 0.55, ["7701", "7702", "7747", "7771", "7705", "7700"]),
    ("UZ", 0.25, ["99890", "99893", "99897"]),
    ("RU", 0.15, ["7916", "7926", "7903"]),
    ("BR", 0.05, ["5511", "5521"]),
]
NAMES = ["Anna", "Bob", "Dmitry", "Aigerim", "José", "Erlan", "Mariya", "Timur", "Айгерим", ""]
TEXT = "Hi {name}, your order {order} ships tomorrow. Track it at crier.example/t/{order}"


def build(recipients: int) -> int:
    from django.db import transaction

    from campaigns import bulk
    from campaigns.models import Campaign, references
    from dashboard.models import Workspace
    from providers.models import ProviderAccount, Rate

    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    account = ProviderAccount(workspace=workspace, provider="bsg", name="Bench BSG")
    account.credentials = {"api_key": "live_bench"}
    account.save()
    rates = [("KZ", "", "0.035"), ("", "7701", "0.031"), ("", "7747", "0.033"), ("UZ", "", "0.05")]
    rates += [("RU", "", "0.06")]  # BR stays unpriced
    Rate.objects.bulk_create(
        Rate(account=account, country=c, prefix=p, price=Decimal(v)) for c, p, v in rates
    )
    campaign = Campaign.objects.create(
        workspace=workspace, name="Bench", account=account, text=TEXT, placeholder_policy="strip"
    )
    rng = random.Random(5)
    spool = io.StringIO()
    encode = bulk.FieldsEncoder({"name": 0, "order": 1})
    countries = rng.choices(DESTINATIONS, [share for _, share, _ in DESTINATIONS], k=recipients)
    pairs = zip(references(recipients), countries, strict=True)
    for row, (reference, (country, _, starts)) in enumerate(pairs, 1):
        start = rng.choice(starts)
        phone = "+" + start + "".join(rng.choices("0123456789", k=12 - len(start)))
        cells = [rng.choice(NAMES), str(rng.randint(1000, 999999))]
        spool.write(bulk.spool_line(reference, phone, country, "mobile", row, encode(cells)))
    with transaction.atomic():
        bulk.insert_messages(campaign.pk, spool)
    return campaign.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        os.environ.update(
            DATABASE_URL=f"sqlite:///{var}/bench.sqlite3",
            CRIER_VAR_DIR=var,
            DJANGO_SETTINGS_MODULE="dashboard.settings",
            LOG_LEVEL="WARNING",
            DEBUG="false",
            ALLOWED_HOSTS="testserver",
        )
        import django
        from django.core.management import call_command

        django.setup()
        from campaigns.models import Campaign
        from campaigns.pricing import price

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        campaign_pk = build(args.recipients)
        print(f"built {args.recipients:,} recipients in {time.perf_counter() - started:.1f} s")
        timings = []
        for _ in range(3):
            campaign = Campaign.objects.select_related("account").get(pk=campaign_pk)
            started = time.perf_counter()
            estimate = price(campaign)
            timings.append(time.perf_counter() - started)
        print(
            f"price(): {min(timings) * 1e3:.0f} ms for {estimate.messages:,} recipients "
            f"(best of 3; {min(timings) / estimate.messages * 1e6:.1f} µs a recipient)"
        )
        for line in estimate.lines:
            print(
                f"  {line.country or '??'} {line.rate:>6} {line.messages:>9,} messages "
                f"{line.segments:>9,} parts x {line.price.normalize():f} = "
                f"{line.subtotal.normalize():f} {estimate.currency}"
            )
        for line in estimate.unpriced:
            print(f"  {line.country or '??'}   no rate {line.messages:>9,} messages")
        print(f"  total {estimate.total.normalize():f} {estimate.currency}")
        counter(campaign)


def counter(campaign) -> None:
    """The live counter as the browser calls it: POST the text, time the server's answer."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from dashboard.models import Membership, Role

    user = get_user_model().objects.create_user("bench")
    Membership.objects.create(user=user, workspace=campaign.workspace, role=Role.SENDER)
    client = Client()
    client.force_login(user)
    url = reverse("campaign_count", args=[campaign.pk])
    texts = {
        "1-part GSM": "Hi {name}, your code is {code}. Reply STOP to opt out.",
        "3-part UCS-2": "Привет, {name}! " * 12 + "Код {code} \u2019",
    }
    for label, text in texts.items():
        timings = []
        for _ in range(50):
            started = time.perf_counter()
            response = client.post(url, {"text": text}, headers={"HX-Request": "true"})
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200
        timings.sort()
        print(
            f"live counter, {label}: p50 {timings[25] * 1e3:.1f} ms, "
            f"p95 {timings[47] * 1e3:.1f} ms (target <= 50 ms)"
        )


if __name__ == "__main__":
    main()
