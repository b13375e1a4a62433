"""The proof of issue #18's webhooks: a 10,000-message campaign sent and tracked through the
sandbox, while the receiver is down for a while and answers 500 for another; once it recovers
it has seen every message's status exactly as Crier stored it (repeats allowed, nothing
missing), in a bounded number of requests, every one verified with standardwebhooks."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.tracking import polling as tracking
from core.statuses import CampaignStatus
from providers.sandbox import clock
from tests.sendkit import campaign_for, sandbox_account, send_all
from webhooks import delivery
from webhooks.models import Delivery, Event, EventType

pytestmark = pytest.mark.usefixtures("no_sample_webhook")

RECIPIENTS = 10_000


@pytest.fixture
def frozen_sandbox(settings, monkeypatch):
    settings.CRIER_SEND_BATCH_SIZE = 2_500
    settings.CRIER_PROVIDER_TIMEOUT = 30.0
    clock.reset()
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen + clock._offset)
    yield
    clock.reset()


def track(campaign: Campaign) -> None:
    for _ in range(40):
        clock.advance(15)
        tracking.poll(campaign)
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.COMPLETED:
            return
    raise AssertionError("the campaign did not complete")


def deliver_everything(start) -> None:
    """Runs delivery at ever later times until no delivery is pending."""
    now = start
    for _ in range(30):
        delivery.run(now=now)
        if not Delivery.objects.filter(status="pending").exists():
            return
        now += timedelta(minutes=10)
    raise AssertionError("deliveries still pending")


@pytest.mark.django_db(transaction=True)
def test_a_receiver_sees_every_stored_status_of_a_10000_message_campaign(
    acme, live_server, endpoint, receiver, frozen_sandbox
):
    account, _remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, account, RECIPIENTS)

    send_all(campaign, budget=30, within=300)
    receiver.stop()  # down while the first events go out
    delivery.run()
    receiver.start()
    receiver.answer = 500  # then up, but failing
    delivery.run(now=timezone.now() + timedelta(minutes=5))
    track(campaign)
    receiver.answer = 200
    deliver_everything(timezone.now() + timedelta(minutes=10))

    assert all(r["verified"] for r in receiver.requests)
    stored = {
        m["id"]: m
        for m in Message.objects.filter(campaign=campaign).values(
            "id", "reference", "phone", "status", "error_code", "updated_at"
        )
    }
    assert len(stored) == RECIPIENTS
    seen: dict[int, dict] = {}
    batches = receiver.of_type(EventType.MESSAGE_STATUS)
    for payload in batches:
        assert payload["data"]["campaign_id"] == campaign.pk
        for message in payload["data"]["messages"]:
            last = seen.get(message["id"])
            if last is None or message["changed_at"] >= last["changed_at"]:
                seen[message["id"]] = message
    assert seen.keys() == stored.keys()  # nothing missing
    for pk, message in seen.items():
        mine = stored[pk]
        assert (message["reference"], message["phone"], message["status"]) == (
            mine["reference"],
            mine["phone"],
            mine["status"],
        )
        assert message["error_code"] == mine["error_code"]
    final = {m["status"] for m in stored.values()}
    assert final <= {"delivered", "undelivered", "expired", "rejected"}
    assert len(final) > 1

    # Bounded: a thousand messages an event, so a handful of requests per status passed.
    events = Event.objects.filter(type=EventType.MESSAGE_STATUS).count()
    told = sum(len(p["data"]["messages"]) for p in batches)
    assert all(len(p["data"]["messages"]) <= 1000 for p in batches)
    assert events < told / 100
    assert len(receiver.requests) < told / 100
    assert len(receiver.of_type(EventType.CAMPAIGN_COMPLETED)) >= 1
    print(
        f"\n{RECIPIENTS:,} messages: {told:,} statuses told in {events} events, "
        f"{len(receiver.requests)} requests (down, 500s and repeats included); "
        f"at least {math.ceil(told / 1000)} needed"
    )
