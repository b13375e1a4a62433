"""At most once under a slow provider, a duplicate refusal, a retry and rate limits (#13).

Real Celery workers and beat on PostgreSQL and Redis, the sandbox behind a real web server.
Every figure comes from the sandbox's charge ledger: a phone billed twice is a message sent
twice, a pending or submitting message at the end is a lost or stuck one, and the cost Crier
shows must be the sum the provider billed.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from campaigns.compose.outgoing import messages_for, spec_for
from campaigns.models import Batch, Campaign, Message
from campaigns.sending import engine as sending
from core.statuses import BatchStatus, CampaignStatus
from providers.base import BatchState
from providers.sandbox.models import Charge, SandboxAccount
from tests.reliability.test_sending import (
    HANDED_OVER,
    finished,
    handed_over,
    wait_until,
)
from tests.sendkit import campaign_for, knobs, ledger, sandbox_account, statuses, unsent

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = 10_000


def personalise(campaign: Campaign) -> None:
    """A different name per recipient, so each one gets a text of its own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_message SET fields = jsonb_build_object('name', 'N' || id::text) "
            "WHERE campaign_id = %s",
            [campaign.pk],
        )


def billed(remote: SandboxAccount) -> Decimal:
    return Charge.objects.active().filter(account=remote).total()


def shown_cost(campaign: Campaign) -> Decimal | None:
    costs = list(campaign.batches.values_list("cost", flat=True))
    if not costs or any(cost is None for cost in costs):
        return None
    return sum(costs, Decimal(0))


def assert_sent_once(campaign: Campaign, remote: SandboxAccount, recipients: int) -> dict:
    campaign.refresh_from_db()
    assert campaign.status in (CampaignStatus.SENT, CampaignStatus.COMPLETED), (
        campaign.status,
        campaign.status_reason,
        statuses(campaign),
    )
    figures = ledger(remote)
    assert figures == {"charges": recipients, "phones_charged_twice": 0}, figures
    assert unsent(campaign) == 0, statuses(campaign)
    assert set(statuses(campaign)) <= HANDED_OVER, statuses(campaign)
    assert handed_over(campaign) == recipients
    return figures


def test_a_provider_slower_than_the_timeout_charges_every_phone_once(acme, processes):
    """Slow accept: each provider takes a batch, works on it for 5 s, longer than Crier's 3 s
    timeout, then bills it. Five campaigns of 10,000 at once, each on its own account."""
    processes.env |= {
        "CRIER_SEND_BATCH_SIZE": "2000",
        "CRIER_RECONCILE_SETTLE_SECONDS": "4",  # 3 s in transit + 4 s > the 5 s of work
        "CRIER_LEASE_SECONDS": "6",
        "CRIER_POLL_INTERVAL": "2",
    }
    cases = [
        ("bsg", "Hello from Crier"),
        ("bsg", "Hello {name}"),
        ("mobizon", "Hello from Crier"),
        ("mobizon", "Hello {name}"),
        ("smsdrop", "Hello from Crier"),
    ]
    runs = []
    for n, (slug, text) in enumerate(cases):
        name = f"Slow {n}"
        account, remote = sandbox_account(acme.workspace, slug, processes.url, name=name)
        campaign = campaign_for(acme.workspace, account, RECIPIENTS, text=text, name=name)
        if "{name}" in text:
            personalise(campaign)
        knobs(remote, slow_accept_seconds=5)
        runs.append((slug, text, campaign, remote))
    started = time.monotonic()
    processes.worker("worker1")
    processes.worker("worker2")
    processes.beat()

    campaigns = [campaign for _s, _t, campaign, _r in runs]
    wait_until(lambda: finished(*campaigns), 300, "every campaign to finish", processes)
    took = time.monotonic() - started

    for slug, text, campaign, remote in runs:
        figures = assert_sent_once(campaign, remote, RECIPIENTS)
        if slug in ("bsg", "mobizon"):  # smsdrop bills credits and reports no cost
            wait_until(lambda c=campaign: shown_cost(c) is not None, 60, f"{slug} costs polled")
            assert shown_cost(campaign) == billed(remote), (slug, text)
        print(f"slow accept {slug} {text!r}: {figures}, billed {billed(remote)}, {took:.0f} s")


def test_bsg_already_taken_is_reconciled_and_retry_from_the_page_sends_nothing_twice(
    acme, processes, settings
):
    """Two batches BSG took while Crier believed them unsent (the old engine's state after a
    lookup that came too early): sent again, BSG answers 422 "The reference id has already
    been taken.", which is evidence that it has them, never a failure. Then Retry."""
    processes.env |= {"CRIER_SEND_BATCH_SIZE": "2000", "CRIER_LEASE_SECONDS": "6"}
    settings.CRIER_SEND_BATCH_SIZE = 2000
    account, remote = sandbox_account(acme.workspace, "bsg", processes.url, name="Taken")
    campaign = campaign_for(acme.workspace, account, RECIPIENTS, name="Taken")
    for _ in range(2):
        batch, _token = sending.claim(campaign)
        claimed = Message.objects.filter(batch=batch)
        with account.adapter() as adapter:  # BSG takes it; the answer never reaches Crier
            adapter.submit(
                spec_for(campaign, sending=True),
                messages_for(campaign, claimed),
                BatchState(key=batch.key),
            )
        Batch.objects.filter(pk=batch.pk).update(lease_until=None, lease_token="")
    processes.worker()
    processes.beat()

    wait_until(lambda: finished(campaign), 240, "the campaign to finish", processes)
    assert campaign.batches.filter(provider_has_it=True).count() == 2  # the 422 path ran
    assert_sent_once(campaign, remote, RECIPIENTS)

    # Retry from the page, as a person would: nothing failed, so nothing goes again.
    browser = Client()
    browser.force_login(acme.user("sender"))
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    with httpx.Client(base_url=processes.url, cookies=cookies, timeout=30) as http:
        page = http.get(reverse("campaign_detail", args=[campaign.pk]))
        assert 'data-testid="retry"' not in page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = http.post(
            reverse("campaign_retry", args=[campaign.pk]),
            headers={"X-CSRFToken": token, "Referer": processes.url},
            follow_redirects=True,
        )
    assert "nothing to retry" in answer.text
    time.sleep(5)  # anything a retry had queued would have gone by now
    figures = assert_sent_once(campaign, remote, RECIPIENTS)
    print(f"already taken, then Retry: {figures}, billed {billed(remote)}")
    assert not campaign.batches.filter(status=BatchStatus.FAILED).exists()


def test_personalised_mobizon_sends_all_and_survives_a_429_on_every_fourth_request(acme, processes):
    processes.env |= {"CRIER_SEND_BATCH_SIZE": "5000", "CRIER_LEASE_SECONDS": "6"}
    plain_sailing, storm = [], []
    for name, bucket in (("Personal", plain_sailing), ("Personal 429", storm)):
        account, remote = sandbox_account(acme.workspace, "mobizon", processes.url, name=name)
        campaign = campaign_for(acme.workspace, account, 5_000, text="Hi {name}", name=name)
        personalise(campaign)
        bucket += [campaign, remote]
    knobs(storm[1], rate_limit_every_n=4, retry_after=1)
    processes.worker()
    processes.beat()

    wait_until(
        lambda: finished(plain_sailing[0], storm[0]), 240, "both campaigns to finish", processes
    )

    for campaign, remote in (plain_sailing, storm):
        figures = assert_sent_once(campaign, remote, 5_000)
        remote.refresh_from_db()
        assert remote.early_requests == 0
        print(f"mobizon {campaign.name}: {figures}, {remote.request_count} requests")
    storm[1].refresh_from_db()
    # The storm happened: the batch needs 13 calls (create, 11 AddRecipients at 499 a call,
    # send), and one in four was refused on top of those.
    assert storm[1].request_count >= 16
