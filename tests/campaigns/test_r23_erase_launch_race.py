"""r23 review: an erasure that commits while a launch's transaction is open leaves a pending
message to the erased person's real number, which the campaign then sends.

services.launch copies the audience into messages (audiences.snapshot, an INSERT ... SELECT)
and commits only after the zones, counters, audit and events. The snapshot reads the contact
without locking it (no FOR SHARE / FOR KEY SHARE), and campaigns.contact_history.erase neither
locks the contact first nor can see the launch's uncommitted messages: its UPDATE of the
workspace's messages to the number finds none of them, it deletes the contact, and commits.
The launch then commits a pending message with the number and the contact's name in
``fields``: the erased person is messaged, and the number is back in the campaign's record.
On SQLite one writer at a time makes the erasure wait for the launch, so PostgreSQL only.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from campaigns import contact_history, services, windows
from campaigns.models import Message
from core.statuses import MessageStatus
from providers.base import AccountInfo
from tests.campaigns.history_kit import in_thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite lets one writer at a time: the erasure waits for the launch",
    ),
]

RICH = AccountInfo(currency="EUR", balance=Decimal("1000"))


def test_an_erasure_during_a_launch_leaves_no_message_to_the_number(acme, monkeypatch):
    campaign = acme.campaign
    campaign.text, campaign.sender = "Hello {name}", acme.sender.value
    campaign.save()
    acme.account.currency = "EUR"
    acme.account.save()
    campaign.audience_lists.add(acme.contact_list)  # holds acme.contact alone
    phone = acme.contact.phone

    snapshotted, erased = threading.Event(), threading.Event()
    assign_zones = windows.assign_zones

    def paused(*args, **kwargs):  # right after audiences.snapshot, inside the launch
        snapshotted.set()
        erased.wait(20)
        return assign_zones(*args, **kwargs)

    monkeypatch.setattr(windows, "assign_zones", paused)
    launcher, failures = in_thread(lambda: services.launch(campaign, None, funds=RICH))
    assert snapshotted.wait(20)
    try:
        contact_history.erase(acme.contact, acme.user("admin"))
    finally:
        erased.set()
        launcher.join(30)

    sent_to = list(
        Message.objects.filter(phone=phone, status=MessageStatus.PENDING).values_list(
            "campaign_id", "fields"
        )
    )
    assert not sent_to, f"pending messages to the erased number: {sent_to} ({failures})"
