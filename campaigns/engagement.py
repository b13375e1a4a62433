"""Contacts' engagement, which segments read: ``Contact.last_sent_at`` (when a message to the
number was handed over) and ``last_delivered_at`` (when one was delivered).

``roll_up`` (beat, each minute) carries the batches updated since it last read them into their
numbers' contacts; ``backfill`` gives contacts created after messages went to their numbers
(an import, a form, the API, an opt-out of an unknown number: contacts.signals and post_save,
connected in campaigns.apps) what the roll-up read before they existed. Messages are tied to
contacts by number, as in campaigns.contact_history. Both are single grouped UPDATEs; a date
only ever moves forward, so reading a batch or a contact twice is harmless.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q

from campaigns.models import Batch, Campaign, Message
from contacts.models import Contact
from core.statuses import HANDED_OVER, MessageStatus

ROLL_UP_BATCHES = 200  # batches read by one roll-up run; the rest wait for the next run
BACKFILL_CHUNK = 5_000  # new contacts given their numbers' engagement in one transaction


def roll_up(limit: int = ROLL_UP_BATCHES) -> dict:
    """Carries what happened to the messages of batches updated since the roll-up last read
    them into their contacts' ``last_sent_at`` (when the batch was handed over) and
    ``last_delivered_at`` (when the delivery was recorded); a date only ever moves forward, so
    reading a batch twice is harmless. Reads at most ``limit`` batches, the longest waiting
    first; returns how many batches and contacts it updated."""
    due = Batch.objects.filter(Q(rolled_up_at__isnull=True) | Q(updated_at__gt=F("rolled_up_at")))
    due = due.order_by("updated_at").values_list(
        "pk", "updated_at", "submitted_at", "campaign__workspace_id"
    )
    batches = contacts = 0
    for pk, seen, submitted_at, workspace_id in due[:limit]:
        with transaction.atomic():
            contacts += _roll_up_batch(pk, submitted_at or seen, workspace_id)
            # The updated_at read before the messages: a poll since then is read next time.
            Batch.objects.filter(pk=pk).update(rolled_up_at=seen)
        batches += 1
    return {"batches": batches, "contacts": contacts}


def backfill(workspace_id: int, since: datetime) -> int:
    """Gives the workspace's contacts created at or after ``since`` the engagement their
    numbers had before they were contacts (a campaign sent to a file, then the file imported
    into the book): the roll-up read those batches before the contacts existed. BACKFILL_CHUNK
    contacts at a time, oldest first (the ``contact_added_order`` index), each chunk one
    UPDATE from the workspace's handed-over messages to its numbers in a short transaction of
    its own, so a million new contacts are never locked together. A date only moves forward,
    so overlapping the roll-up is harmless. Returns how many contacts it updated."""
    if not Message.objects.filter(campaign__workspace_id=workspace_id).exists():
        return 0
    new = Contact.objects.filter(workspace_id=workspace_id, created_at__gte=since)
    new = new.order_by("created_at", "id").values_list("created_at", "id")
    updated, chunk = 0, list(new[:BACKFILL_CHUNK])
    while chunk:
        with transaction.atomic():
            updated += _backfill_chunk(workspace_id, [pk for _, pk in chunk])
        last_at, last_id = chunk[-1]
        after = Q(created_at__gt=last_at) | Q(created_at=last_at, id__gt=last_id)
        chunk = list(new.filter(after)[:BACKFILL_CHUNK])
    return updated


def _backfill_chunk(workspace_id: int, contact_ids: list[int]) -> int:
    """One UPDATE: the contacts ``contact_ids`` from the workspace's handed-over messages to
    their numbers (the ``message_phone`` index), grouped by number in the database."""
    messages, batches = Message._meta.db_table, Batch._meta.db_table
    handed_over = ", ".join(["%s"] * len(HANDED_OVER))
    ids = ", ".join(["%s"] * len(contact_ids))
    grouped = (
        f"SELECT m.phone AS phone, MAX(COALESCE(b.submitted_at, b.updated_at)) AS sent, "
        f"MAX(CASE WHEN m.status = %s THEN m.updated_at END) AS delivered "
        f"FROM {messages} m JOIN {batches} b ON b.id = m.batch_id "
        f"JOIN {Campaign._meta.db_table} k ON k.id = m.campaign_id "
        f"WHERE k.workspace_id = %s AND m.status IN ({handed_over}) AND m.phone IN "
        f"(SELECT phone FROM {_TABLE} WHERE id IN ({ids})) GROUP BY m.phone"
    )
    params = [MessageStatus.DELIVERED.value, workspace_id, *HANDED_OVER, *contact_ids]
    return _carry(grouped, params, workspace_id)


_TABLE = Contact._meta.db_table


def _later(value: str, column: str) -> str:
    """SQL: the grouped ``v.value`` is later than the contact's ``column`` (or it has none)."""
    return f"v.{value} IS NOT NULL AND ({_TABLE}.{column} IS NULL OR v.{value} > {_TABLE}.{column})"


_SET_LATER = (
    f"last_sent_at = CASE WHEN {_later('sent', 'last_sent_at')} THEN v.sent "
    f"ELSE {_TABLE}.last_sent_at END, "
    f"last_delivered_at = CASE WHEN {_later('delivered', 'last_delivered_at')} THEN v.delivered "
    f"ELSE {_TABLE}.last_delivered_at END"
)


def _roll_up_batch(batch_id: int, sent_at, workspace_id: int) -> int:
    """One UPDATE: the contacts of the batch's numbers, from its handed-over messages grouped
    by number in the database (nothing travels through Python)."""
    handed_over = ", ".join(["%s"] * len(HANDED_OVER))
    grouped = (
        f"SELECT m.phone AS phone, %s AS sent, "
        f"MAX(CASE WHEN m.status = %s THEN m.updated_at END) AS delivered "
        f"FROM {Message._meta.db_table} m WHERE m.batch_id = %s "
        f"AND m.status IN ({handed_over}) GROUP BY m.phone"
    )
    params = [
        connection.ops.adapt_datetimefield_value(sent_at),
        MessageStatus.DELIVERED.value,
        batch_id,
        *HANDED_OVER,
    ]
    return _carry(grouped, params, workspace_id)


def _carry(grouped: str, params: list, workspace_id: int) -> int:
    """Moves the workspace's contacts' dates forward to the rows of ``grouped`` (SQL giving
    phone, sent, delivered); returns how many contacts changed."""
    sent, delivered = _later("sent", "last_sent_at"), _later("delivered", "last_delivered_at")
    sql = (
        f"UPDATE {_TABLE} SET {_SET_LATER} FROM ({grouped}) v "
        f"WHERE {_TABLE}.workspace_id = %s AND {_TABLE}.phone = v.phone "
        f"AND (({sent}) OR ({delivered}))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, workspace_id])
        return cursor.rowcount
