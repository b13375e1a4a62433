"""Review r22: ``GET /api/v1/messages?updated_since=`` polled as docs/api.md says ("poll it with
the time of your last read") must not lose a status change. The tracking poll stamps
``updated_at`` with the time its UPDATE starts (campaigns/tracking/polling.py ``_update``), and
the change becomes visible only when that transaction commits: a read in between sees the old
status, and the next poll, from the time of that read, starts after the stamp."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from campaigns.models import Message
from campaigns.tracking import polling
from core.statuses import MessageStatus
from providers.base import MessageStatusReport
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a reader on another connection while the poll's transaction is open",
)


@postgres_only
def test_r22_a_status_change_committed_after_a_read_is_not_lost_to_updated_since(acme, monkeypatch):
    api = client_for(acme)
    campaign = acme.campaign
    message = Message.objects.create(
        campaign=campaign, phone="+77010000001", country="KZ", status=MessageStatus.SENT
    )
    stored, go_on = threading.Event(), threading.Event()
    original = polling.bulk.update_from_rows

    def slow_update(*args, **kwargs):
        changed = original(*args, **kwargs)
        stored.set()  # the UPDATE ran; its transaction commits when it returns
        go_on.wait(10)  # stands for the statement's own time (2.5 s for 100,000 reports)
        return changed

    monkeypatch.setattr(polling.bulk, "update_from_rows", slow_update)
    report = MessageStatusReport(
        status=MessageStatus.DELIVERED,
        raw_status="DELIVERED",
        final=True,
        reference=message.reference,
    )

    def poll():
        try:
            polling.apply_statuses(campaign, [report])
        finally:
            connections.close_all()

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        assert stored.wait(10)
        first = api.get("/api/v1/messages").json()["results"]
        assert [m["status"] for m in first] == ["sent"]  # not committed yet
        last_read = timezone.now()  # "the time of your last read"
    finally:
        go_on.set()
        thread.join(10)

    assert Message.objects.get(pk=message.pk).status == MessageStatus.DELIVERED
    later = api.get("/api/v1/messages", {"updated_since": last_read.isoformat()}).json()
    assert [(m["id"], m["status"]) for m in later["results"]] == [(message.pk, "delivered")], (
        "the delivery was stamped before the read and committed after it: no poll from the "
        "time of a read ever returns it"
    )
