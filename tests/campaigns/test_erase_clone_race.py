"""An erasure that commits while a clone's transaction is open: the clone's INSERT ... SELECT
read the messages before the erasure replaced their number, and the erasure cannot see the
clone's uncommitted copies, so the new draft kept the erased person's real number (the race of
review r23's first defect, found in the session's last read-through). Both take
audiences.hold_book now. PostgreSQL only: SQLite has one writer at a time."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns import contact_history, services
from campaigns.models import Campaign, Message
from tests.campaigns.history_kit import in_thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite lets one writer at a time: the erasure waits for the clone",
    ),
]


def test_an_erasure_during_a_clone_leaves_the_number_in_no_draft(acme, monkeypatch):
    phone = acme.contact.phone
    Message.objects.create(campaign=acme.campaign, phone=phone, country="KZ", row_number=1)
    copied, erased = threading.Event(), threading.Event()
    copy_recipients = services._copy_recipients

    def paused(*args, **kwargs):  # the copies made, inside the clone's transaction
        copy_recipients(*args, **kwargs)
        copied.set()
        erased.wait(5)

    monkeypatch.setattr(services, "_copy_recipients", paused)
    cloner, failures = in_thread(lambda: services.clone(acme.campaign, None, "Again"))
    assert copied.wait(20)
    admin = acme.user("admin")
    eraser, erase_failures = in_thread(lambda: contact_history.erase(acme.contact, admin))
    eraser.join(3)  # it waits for the clone (the fix), or it has committed already (the race)
    erased.set()
    cloner.join(30)
    eraser.join(30)

    copy = Campaign.objects.get(name="Again")
    kept = list(Message.objects.filter(campaign=copy, phone=phone).values_list("status", flat=True))
    assert not kept and not failures, f"the clone kept the erased number: {kept} ({failures})"
    assert not erase_failures
