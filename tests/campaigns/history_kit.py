"""Messages to a contact's number across campaigns, for the contact page's tests."""

from __future__ import annotations

import threading

from django.db import connection

from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus, MessageStatus


def campaign_with(tenant, name: str, phones: dict[str, str], **fields) -> Campaign:
    """A completed campaign of ``tenant`` with one message per phone, in the given status."""
    campaign = Campaign.objects.create(
        workspace=tenant.workspace,
        account=tenant.account,
        name=name,
        text=fields.pop("text", "Hi {name}"),
        status=fields.pop("status", CampaignStatus.COMPLETED),
        **fields,
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=phone, country="KZ", status=status, fields={"name": "Ann"})
        for phone, status in phones.items()
    )
    return campaign


DELIVERED = MessageStatus.DELIVERED


def in_thread(work) -> tuple[threading.Thread, list[Exception]]:
    """``work()`` started on a thread of its own (its own database connection, closed after),
    with the list that will hold what it raised: for races against an erasure."""
    failures: list[Exception] = []

    def run():
        try:
            work()
        except Exception as exc:  # the test reports it
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures
