"""What campaigns tell webhook subscribers (webhooks.events): messages whose status changed,
a thousand to an event, and a campaign's moves (launched, paused, resumed, stopped, completed,
failed).

Every place that changes a message's status goes through ``update`` (an ORM update) or
``report`` (after a bulk UPDATE it ran itself), inside the transaction of the change. Each
first asks whether anyone listens, one indexed query: a workspace without a subscribed
endpoint pays nothing else. A message's move from pending to submitting (a worker's claim) is
the one change not told: it is Crier's own bookkeeping, followed within seconds by the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import groupby

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounters, Message
from webhooks import events
from webhooks.models import EventType

# The columns an event gives of each message, in this order (``report_rows`` takes them so).
COLUMNS = ("id", "reference", "phone", "status", "error_code")
_CHUNK = events.MESSAGES_PER_EVENT


def listening(workspace_id: int) -> bool:
    return events.wanted(workspace_id, EventType.MESSAGE_STATUS)


def update(workspace_id: int, messages, **changes) -> int:
    """``messages.update(**changes)`` (updated_at set to now unless given), and, when someone
    listens, the messages it changed reported in the same transaction. Returns how many."""
    if not listening(workspace_id):
        return messages.update(**changes)
    stamp = changes.setdefault("updated_at", timezone.now())
    changed = 0
    with transaction.atomic():
        ids = list(messages.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            changed += messages.filter(pk__in=chunk).update(**changes)
            _report(workspace_id, Message.objects.filter(pk__in=chunk, updated_at=stamp))
    return changed


def report(workspace_id: int, messages) -> None:
    """Reports ``messages`` (a queryset of messages just changed), when someone listens."""
    if listening(workspace_id):
        _report(workspace_id, messages)


def _report(workspace_id: int, messages) -> None:
    rows = messages.order_by("campaign_id", "pk").values_list("campaign_id", *COLUMNS, "updated_at")
    for campaign_id, group in groupby(rows.iterator(), key=lambda row: row[0]):
        events.record_messages(
            workspace_id, campaign_id, (_message(row[1:-1], row[-1]) for row in group)
        )


def report_rows(campaign: Campaign, rows: Iterable[tuple], changed_at: datetime) -> None:
    """Reports messages of ``campaign`` as a bulk UPDATE returned them (COLUMNS), all changed
    at ``changed_at``: written once as text, so encoding a thousand messages calls no Python
    per message (a poll of 100,000 changes spends its time there otherwise)."""
    stamp = DjangoJSONEncoder().default(changed_at)
    events.record_messages(
        campaign.workspace_id, campaign.pk, (_message(row, stamp) for row in rows)
    )


def _message(row: tuple, changed_at: datetime | str) -> dict:
    return dict(zip(COLUMNS, row, strict=True)) | {"changed_at": changed_at}


def campaign_changed(campaign: Campaign, type: str, *, if_status: str = "", **more) -> None:
    """A ``campaign.*`` event: the campaign as it is now, with its counters (only if its
    status is ``if_status``, when given), and ``more`` beside it in the event's data."""
    if not events.wanted(campaign.workspace_id, type):
        return
    fresh = Campaign.objects.filter(pk=campaign.pk).first()
    if fresh is None or (if_status and fresh.status != if_status):
        return
    counters = CampaignCounters.objects.filter(campaign=fresh).first()
    data = {
        "campaign": {
            "id": fresh.pk,
            "name": fresh.name,
            "status": fresh.status,
            "status_reason": fresh.status_reason,
            "counters": counters.as_dict() if counters else {},
            "updated_at": fresh.updated_at,
        },
        **more,
    }
    events.record(fresh.workspace_id, type, data)
