"""Sending survives dying workers and misbehaving providers: zero duplicates, zero lost.

Each test runs real Celery workers and beat against PostgreSQL and Redis, with the sandbox
behind a real web server, and reads the outcome from the sandbox's charge ledger: every phone
billed exactly once, no message left pending or submitting.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Campaign
from core.statuses import CampaignStatus, MessageStatus
from providers.sandbox.models import SandboxAccount
from tests.sendkit import campaign_for, knobs, ledger, sandbox_account, statuses, unsent

pytestmark = pytest.mark.django_db(transaction=True)

# Beat polls delivery statuses meanwhile (campaigns.tracking.polling), so a campaign whose
# messages all went may have moved on to completed, and its messages from queued to later statuses.
FINISHED = {
    CampaignStatus.SENT,
    CampaignStatus.COMPLETED,
    CampaignStatus.FAILED,
    CampaignStatus.PAUSED,
}
HANDED_OVER = {"queued", "sent", "delivered", "undelivered", "expired", "rejected", "unknown"}


def wait_until(condition, seconds: float, what: str, processes=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    logs = "" if processes is None else processes.log("worker")
    raise AssertionError(f"{what}: not within {seconds} s\n{logs}")


def finished(*campaigns: Campaign) -> bool:
    return all(Campaign.objects.get(pk=c.pk).status in FINISHED for c in campaigns)


def handed_over(campaign: Campaign) -> int:
    return campaign.messages.filter(status__in=HANDED_OVER).count()


def assert_each_sent_once(campaign: Campaign, remote: SandboxAccount, recipients: int):
    campaign.refresh_from_db()
    assert campaign.status in (CampaignStatus.SENT, CampaignStatus.COMPLETED), (
        campaign.status_reason
    )
    assert ledger(remote) == {"charges": recipients, "phones_charged_twice": 0}
    assert set(statuses(campaign)) <= HANDED_OVER, statuses(campaign)
    assert handed_over(campaign) == recipients
    assert unsent(campaign) == 0


def test_killing_a_worker_three_times_mid_send_loses_and_duplicates_nothing(acme, processes):
    # A kill that lands after a batch was claimed but before its request left records no
    # request: the batch then waits out the settle time before it may go (at most once), and
    # BSG's default 10 minutes would outlast this test. This provider works 0.4 s on a batch,
    # so 2 s more than the 3 s in transit is settle time enough (CI once hit that window).
    processes.env["CRIER_RECONCILE_SETTLE_SECONDS"] = "2"
    account, remote = sandbox_account(acme.workspace, "bsg", processes.url)
    knobs(remote, slow_seconds=0.4)  # each batch of 500 spends 0.4 s at the provider
    campaign = campaign_for(acme.workspace, account, 10_000, status="scheduled")
    processes.worker()
    processes.beat()

    for kill in range(1, 4):
        # Kill while a batch is at the provider: some handed over, the rest not yet.
        wait_until(
            lambda k=kill: handed_over(campaign) >= 2000 * k,
            120,
            f"progress before kill {kill}",
            processes,
        )
        wait_until(
            lambda: campaign.messages.filter(status=MessageStatus.SUBMITTING).exists(),
            30,
            "a batch in flight",
        )
        processes.kill("worker")
        processes.worker()

    wait_until(lambda: finished(campaign), 240, "the campaign to finish", processes)
    assert_each_sent_once(campaign, remote, 10_000)


def test_a_429_storm_is_waited_out_and_everything_goes_once(acme, processes):
    account, remote = sandbox_account(acme.workspace, "bsg", processes.url)
    knobs(remote, rate_limit_every_n=2, retry_after=2)
    campaign = campaign_for(acme.workspace, account, 3_000)
    processes.worker()
    processes.beat()

    wait_until(lambda: finished(campaign), 180, "the campaign to finish", processes)

    assert_each_sent_once(campaign, remote, 3_000)
    remote.refresh_from_db()
    assert remote.early_requests == 0  # never a request before Retry-After had passed
    assert remote.request_count > 6  # the storm really happened: half the requests refused


def test_thirty_seconds_of_5xx_then_recovery(acme, processes):
    account, remote = sandbox_account(acme.workspace, "mobizon", processes.url)
    knobs(remote, errors_until=timezone.now() + timedelta(seconds=30))
    campaign = campaign_for(acme.workspace, account, 3_000)
    processes.worker()
    processes.beat()

    wait_until(lambda: finished(campaign), 180, "the campaign to finish", processes)

    assert_each_sent_once(campaign, remote, 3_000)
    assert campaign.batches.filter(attempts__gt=0).exists()  # the batches did retry


def test_crash_after_accept_on_one_batch_in_a_hundred_is_reconciled(acme, processes):
    processes.env["CRIER_SEND_BATCH_SIZE"] = "100"
    account, remote = sandbox_account(acme.workspace, "bsg", processes.url)
    knobs(remote, crash_after_accept_every_n=100)
    campaign = campaign_for(acme.workspace, account, 10_000)
    processes.worker()
    processes.beat()

    wait_until(lambda: finished(campaign), 240, "the campaign to finish", processes)

    assert_each_sent_once(campaign, remote, 10_000)
    remote.refresh_from_db()
    assert remote.accepting_requests == 100  # one of them answered 500 after charging


def test_a_launch_posted_twice_concurrently_launches_once_fifty_times(acme, processes):
    account, remote = sandbox_account(acme.workspace, "bsg", processes.url)
    account.currency = "EUR"
    account.save()
    campaigns = [
        campaign_for(acme.workspace, account, 4, status="draft", name=f"Twice {n}")
        for n in range(50)
    ]
    # Each campaign's four numbers are distinct from every other campaign's.
    for n, campaign in enumerate(campaigns):
        for m in campaign.messages.all():
            m.phone = f"+7702{n:03d}{m.phone[-4:]}"
            m.save(update_fields=["phone"])
    browser = Client()
    browser.force_login(acme.user("sender"))
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    processes.worker()
    processes.beat()

    with httpx.Client(base_url=processes.url, cookies=cookies, timeout=30) as http:
        page = http.get(reverse("campaign_launch", args=[campaigns[0].pk]))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        headers = {"X-CSRFToken": token, "Referer": processes.url}
        answers = []

        def post(campaign):
            answer = http.post(
                reverse("campaign_launch", args=[campaign.pk]),
                headers=headers,
                data={"confirm_unpriced": "on"},  # the account has no rate card
            )
            answers.append(answer.status_code)

        for campaign in campaigns:
            pair = [threading.Thread(target=post, args=(campaign,)) for _ in range(2)]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join()

    assert answers.count(302) == 100, answers
    wait_until(lambda: finished(*campaigns), 180, "every campaign to finish", processes)
    assert ledger(remote) == {"charges": 200, "phones_charged_twice": 0}
    for campaign in campaigns:
        campaign.refresh_from_db()
        assert campaign.status in (CampaignStatus.SENT, CampaignStatus.COMPLETED)
        assert campaign.batches.count() == 1
    assert AuditEvent.objects.filter(action="campaign_launched").count() == 50
