"""Time the price preview of template campaigns: `.venv/bin/python bench/preview.py
[--recipients 100000 1000000] [--database-url URL] [--repeat 3]`.

For each size, builds a campaign whose text has two placeholders and N recipients spread over
four countries, on an account whose rate card has countries and prefixes, then times
1. price(): reading the messages, rendering and counting every recipient's text, grouping per
   destination, in this process;
2. the preview as the browser asks for it, while the campaign is at most
   CRIER_PREVIEW_SYNC_LIMIT recipients: the first view prices it (target for 100,000:
   <= 1 s), the next one reads the stored estimate back;
3. the preview in the background, as for a bigger campaign: the first view starts a Celery
   task in a real worker started here, then the estimate partial is polled every 0.1 s until
   the price is in it (target for 1,000,000: <= 5 s). The page polls every second, so it
   shows the price up to a second after that.
Best and median of --repeat runs; the stored estimate is dropped before each. Then times the
live segment counter as the browser calls it (target <= 50 ms server time).

The default database is a fresh SQLite file in a temporary folder. --database-url points
to another (PostgreSQL); the bench's workspace is deleted from it at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import django_on, load_messages  # noqa: E402 - after the path is set

# Country, share of the recipients, how its numbers start.
DESTINATIONS = [
    ("KZ", 0.55, ["7701", "7702", "7747", "7771", "7705", "7700"]),
    ("UZ", 0.25, ["99890", "99893", "99897"]),
    ("RU", 0.15, ["7916", "7926", "7903"]),
    ("BR", 0.05, ["5511", "5521"]),
]
NAMES = ["Anna", "Bob", "Dmitry", "Aigerim", "José", "Erlan", "Mariya", "Timur", "Айгерим", ""]
TEXT = "Hi {name}, your order {order} ships tomorrow. Track it at crier.example/t/{order}"
HTMX = {"HX-Request": "true"}


def build(workspace, recipients: int) -> int:

    from campaigns.models import Campaign, references
    from campaigns.recipients import bulk
    from providers.models import ProviderAccount, Rate

    # A closed port: the preview's balance check fails at once instead of calling BSG.
    account = ProviderAccount(
        workspace=workspace,
        provider="bsg",
        name=f"Bench BSG {recipients}",
        api_base_url="http://127.0.0.1:9",
    )
    account.credentials = {"api_key": "live_bench"}
    account.save()
    rates = [("KZ", "", "0.035"), ("", "7701", "0.031"), ("", "7747", "0.033"), ("UZ", "", "0.05")]
    rates += [("RU", "", "0.06")]  # BR stays unpriced
    Rate.objects.bulk_create(
        Rate(account=account, country=c, prefix=p, price=Decimal(v)) for c, p, v in rates
    )
    campaign = Campaign.objects.create(
        workspace=workspace,
        name=f"Bench {recipients:,}",
        account=account,
        text=TEXT,
        placeholder_policy="strip",
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
    load_messages(campaign.pk, spool)
    return campaign.pk


def figures(timings: list[float]) -> str:
    return f"best {min(timings):.2f} s, median {statistics.median(timings):.2f} s"


def time_price(campaign_pk: int, repeat: int) -> None:
    from campaigns.compose.pricing import price
    from campaigns.models import Campaign

    timings = []
    for _ in range(repeat):
        campaign = Campaign.objects.select_related("account").get(pk=campaign_pk)
        started = time.perf_counter()
        estimate = price(campaign)
        timings.append(time.perf_counter() - started)
    print(
        f"  price(): {figures(timings)} "
        f"({min(timings) / estimate.messages * 1e6:.1f} µs a recipient at best)"
    )
    for line in estimate.lines:
        print(
            f"    {line.country or '??'} {line.rate:>6} {line.messages:>9,} messages "
            f"{line.segments:>9,} parts x {line.price.normalize():f} = "
            f"{line.subtotal.normalize():f} {estimate.currency}"
        )
    for line in estimate.unpriced:
        print(f"    {line.country or '??'}   no rate {line.messages:>9,} messages")
    print(f"    total {estimate.total.normalize():f} {estimate.currency}")


def time_sync_preview(client, campaign_pk: int, repeat: int) -> None:
    from django.test import override_settings
    from django.urls import reverse

    from campaigns.models import Estimate

    url = reverse("campaign_preview", args=[campaign_pk])
    first, again = [], []
    with override_settings(CRIER_PREVIEW_SYNC_LIMIT=10**9):
        for _ in range(repeat):
            Estimate.objects.filter(campaign_id=campaign_pk).delete()
            for timings in (first, again):
                started = time.perf_counter()
                response = client.get(url, headers=HTMX)
                timings.append(time.perf_counter() - started)
                assert 'data-testid="total"' in response.text, response.text
    print(f"  preview view, priced in the request: {figures(first)}")
    print(f"  preview view, stored estimate read back: {figures(again)}")


def time_background_preview(client, campaign_pk: int, repeat: int) -> None:
    from django.test import override_settings
    from django.urls import reverse

    from campaigns.models import Estimate

    preview = reverse("campaign_preview", args=[campaign_pk])
    poll = reverse("campaign_estimate", args=[campaign_pk])
    started_in, ready_in, polls = [], [], []
    with override_settings(CRIER_PREVIEW_SYNC_LIMIT=0):
        for _ in range(repeat):
            Estimate.objects.filter(campaign_id=campaign_pk).delete()
            started = time.perf_counter()
            response = client.get(preview, headers=HTMX)
            started_in.append(time.perf_counter() - started)
            assert 'hx-trigger="every 1s"' in response.text, response.text
            seen = set()
            while response.status_code != 286:
                time.sleep(0.1)
                response = client.get(poll, headers=HTMX)
                assert time.perf_counter() - started < 120, "no worker answered in 2 minutes"
                seen.add(Estimate.objects.get(campaign_id=campaign_pk).rows_done)
            ready_in.append(time.perf_counter() - started)
            polls.append(len(seen))
            assert 'data-testid="total"' in response.text, response.text
    print(f"  preview view, starting the worker's task: {figures(started_in)}")
    print(
        f"  in the background, from the first view to the price: {figures(ready_in)} "
        f"(progress seen at {max(polls)} different counts)"
    )


def start_worker(var: str) -> subprocess.Popen:
    log = Path(var) / "worker.log"
    command = [str(ROOT / ".venv/bin/celery"), "-A", "crier", "worker", "--concurrency=1"]
    command += ["-l", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    worker = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        database_url = args.database_url or f"sqlite:///{var}/bench.sqlite3"
        django_on(database_url, var, ALLOWED_HOSTS="testserver")
        from django.db import connection

        from workspaces.models import Workspace

        print(f"database: {connection.vendor}; {os.cpu_count()} cores; load {os.getloadavg()}")
        workspace = Workspace.objects.create(name="Bench", default_country="KZ")
        worker = start_worker(var)
        try:
            client = login(workspace)
            for recipients in args.recipients:
                started = time.perf_counter()
                campaign_pk = build(workspace, recipients)
                elapsed = time.perf_counter() - started
                print(f"{recipients:,} recipients (built in {elapsed:.0f} s)")
                time_price(campaign_pk, args.repeat)
                time_sync_preview(client, campaign_pk, args.repeat)
                time_background_preview(client, campaign_pk, args.repeat)
            counter(client, campaign_pk)
        finally:
            worker.terminate()
            worker.wait(30)
            if args.database_url:
                workspace.campaigns.all().delete()  # before the accounts they protect
                workspace.delete()
                client.user.delete()


def login(workspace):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from workspaces.models import Membership, Role

    user = get_user_model().objects.create_user(f"bench-{workspace.pk}")
    Membership.objects.create(user=user, workspace=workspace, role=Role.SENDER)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def counter(client, campaign_pk: int) -> None:
    """The live counter as the browser calls it: POST the text, time the server's answer."""
    from django.urls import reverse

    url = reverse("campaign_count", args=[campaign_pk])
    texts = {
        "1-part GSM": "Hi {name}, your code is {code}. Reply STOP to opt out.",
        "3-part UCS-2": "Привет, {name}! " * 12 + "Код {code} \u2019",
    }
    for label, text in texts.items():
        timings = []
        for _ in range(50):
            started = time.perf_counter()
            response = client.post(url, {"text": text}, headers=HTMX)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200
        timings.sort()
        print(
            f"live counter, {label}: p50 {timings[25] * 1e3:.1f} ms, "
            f"p95 {timings[47] * 1e3:.1f} ms (target <= 50 ms)"
        )


if __name__ == "__main__":
    main()
