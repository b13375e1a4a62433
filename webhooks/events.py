"""Recording what happened, for the endpoints subscribed to it: the outbox's one way in.

    from webhooks import events
    from webhooks.models import EventType

    events.record(campaign.workspace_id, EventType.CAMPAIGN_PAUSED, {"campaign": {...}})

Call it inside the transaction that makes the change: the Event row commits or rolls back with
it, so a subscriber hears of a change exactly when it happened. Nothing is written, and nothing
but one indexed query is spent, unless an enabled endpoint of the workspace is subscribed to
the type. Once the transaction commits a task fans the event out to the endpoints and sends it
(webhooks.delivery); beat runs the same task as a safety net.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

from core.queue import enqueue
from webhooks.models import Endpoint, Event, EventType

# Message statuses go in events of at most this many messages: a million-message campaign
# makes about a thousand requests per status it passes through, not a million.
MESSAGES_PER_EVENT = 1000


def subscribed(workspace_id: int) -> set[str]:
    """The event types some enabled endpoint of the workspace listens to."""
    live = Endpoint.objects.filter(workspace_id=workspace_id, enabled=True)
    return {t for types in live.values_list("event_types", flat=True) for t in types}


def wanted(workspace_id: int, type: str) -> bool:
    return type in subscribed(workspace_id)


def record(workspace_id: int, type: str, data: Mapping) -> Event | None:
    """An Event of ``type`` with ``data`` (JSON-serialisable; Decimal and datetime are fine),
    when someone is subscribed to it; else None."""
    if not wanted(workspace_id, type):
        return None
    return _create(workspace_id, type, data)


def record_messages(workspace_id: int, campaign_id: int, messages: Iterable[Mapping]) -> int:
    """``message.status_changed`` events for ``messages`` (each: id, reference, phone, status,
    error_code, changed_at), MESSAGES_PER_EVENT to an event. The caller checked ``wanted``
    (it need not read the messages otherwise). Returns how many events it wrote."""
    written, chunk = 0, []
    for message in messages:
        chunk.append(message)
        if len(chunk) == MESSAGES_PER_EVENT:
            written += _messages_event(workspace_id, campaign_id, chunk)
            chunk = []
    if chunk:
        written += _messages_event(workspace_id, campaign_id, chunk)
    return written


def _messages_event(workspace_id: int, campaign_id: int, chunk: list) -> int:
    data = {"campaign_id": campaign_id, "messages": chunk}
    _create(workspace_id, EventType.MESSAGE_STATUS, data)
    return 1


def erase_phone(workspace_id: int, campaign_ids, phone: str, stand_in: str) -> int:
    """Replaces ``phone`` with ``stand_in`` in the workspace's ``message.status_changed``
    events of ``campaign_ids`` (kept CRIER_WEBHOOK_KEEP_DAYS, and replayed from the delivery
    log), as an erasure does in the messages (review r23). Returns the events rewritten. On
    PostgreSQL the events holding the number are found by jsonb containment; on SQLite in the
    JSON's text."""
    events = Event.objects.filter(
        workspace_id=workspace_id,
        type=EventType.MESSAGE_STATUS,
        data__campaign_id__in=list(campaign_ids),
    )
    if connection.vendor == "postgresql":
        events = events.filter(data__messages__contains=[{"phone": phone}])
    else:  # SQLite keeps JSON as text: the number is in it as it is (no escape in E.164)
        events = events.annotate(text=Cast("data", TextField())).filter(text__contains=phone)
    rewritten = 0
    for event in events.only("pk", "data").iterator(chunk_size=100):
        held = [m for m in event.data.get("messages", ()) if m.get("phone") == phone]
        for message in held:
            message["phone"] = stand_in
        if held:
            Event.objects.filter(pk=event.pk).update(data=event.data)
            rewritten += 1
    return rewritten


def import_finished(workspace_id: int, kind: str, imp) -> Event | None:
    """``import.finished`` for a recipient or contact import (core.imports' shared fields)."""
    data = {
        "import": {
            "id": imp.pk,
            "kind": kind,
            "status": imp.status,
            "error": imp.error,
            "rows": imp.rows_done,
            "accepted": imp.accepted,
            "rejected": imp.rejected,
            "finished_at": imp.finished_at,
        }
    }
    return record(workspace_id, EventType.IMPORT_FINISHED, data)


def _create(workspace_id: int, type: str, data: Mapping, endpoint=None) -> Event:
    event = Event.objects.create(workspace_id=workspace_id, type=type, data=data, endpoint=endpoint)
    enqueue("webhooks.tasks.deliver")
    return event


def test(endpoint: Endpoint, user) -> Event:
    """A ``webhook.test`` event for ``endpoint`` alone, whatever it is subscribed to."""
    data = {"endpoint_id": endpoint.pk, "sent_by": user.get_username() if user else ""}
    return _create(endpoint.workspace_id, EventType.TEST, data, endpoint=endpoint)
