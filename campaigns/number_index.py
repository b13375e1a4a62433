"""The number index: a big campaign's numbers in MessageDigits, filled in the background after
they are stored, so the number search (campaigns.pages.number_search) finds the numbers holding
any digits in milliseconds without reading a million messages.

An index on campaigns_message itself would be written by every row of an import's COPY (a
"last four digits" one made a million-row import's PostgreSQL CPU 15.0 -> 18.7 s); this one is
written once, after the import (launch, clone) has committed, and never by a status update. It
is PostgreSQL's (a trigram GIN, migration 0024); elsewhere nothing is filled. A million
numbers take 22-28 s to fill (10-11 s of PostgreSQL CPU) and 106 MiB with the index; the
import's own figures do not move (bench/import.py, PostgreSQL CPU 12.5 -> 12.2 s, medians of
three alternated runs), nor a tracking poll's (100,000 status reports over the indexed
campaign: 10.9 and 9.4 s before, 10.5 and 9.4 s after, alternated; see issue #20).

A campaign's index is used only while it is complete (NumberIndex.built_at), so the search's
results never depend on it. What changes a campaign's numbers calls ``changed`` inside its own
transaction: new messages (an import, a launch's snapshot of the audience) make the index
incomplete until the next fill; an erasure takes its numbers out at once. Either renews the
index's version, and a fill that began under another version rolls back instead of marking the
index complete, so a fill racing such a change never leaves a number out or an erased one in.
Beat fills what is left incomplete within 30 s; the search reads the messages meanwhile.
"""

from __future__ import annotations

import uuid

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Contains, Exact, StartsWith
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounters, Message, MessageDigits, NumberIndex

# Below this, reading the campaign's messages is quick (a twentieth of the 266 ms of a
# million) and the index would only take room.
FROM_MESSAGES = 50_000
SHORTEST = 3  # a trigram index cannot narrow fewer digits down
TAIL = 5  # the digits of the end of what is typed that the index looks up
ANYWHERE, AT_START, WHOLE = 0, 1, 2
LOCK = 2024  # pg_advisory_xact_lock's first key: a fill, the second being the campaign


def changed(campaign_ids, *, added: bool = True) -> None:
    """Tells the campaigns' index (if any fill could be under way) that their numbers changed.
    ``added``: messages were added, so the index is incomplete until the next fill; otherwise
    numbers were taken out (erased) and the caller deletes their MessageDigits rows afterwards,
    in the same transaction (after, so that a fill's rows committed meanwhile go too). An upsert:
    a fill that has not yet made its row waits for this transaction and then reads its rows.
    Call it inside the transaction that changes the messages; beat's fill_number_indexes
    fills the index afterwards (``fill_due``)."""
    rows = [NumberIndex(campaign_id=pk, version=uuid.uuid4().hex) for pk in set(campaign_ids)]
    NumberIndex.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["campaign"],
        update_fields=["version", "built_at"] if added else ["version"],
    )


def fill_due() -> dict:
    """Fills the indexes left incomplete, of campaigns big enough (beat, every 30 s)."""
    due = NumberIndex.objects.filter(
        built_at__isnull=True,
        campaign__counters__total__gte=FROM_MESSAGES,
        campaign__transactional=False,
    )
    filled = [fill(pk) for pk in due.values_list("campaign_id", flat=True).order_by("pk")]
    return {"filled": sum("numbers" in result for result in filled), "due": len(filled)}


def fill(campaign_id: int) -> dict:
    """Writes the campaign's numbers into MessageDigits afresh and marks its index complete,
    unless its numbers changed meanwhile (then beat fills it again). Skips other
    databases, transactional campaigns (they grow a message at a time) and small ones."""
    campaign = Campaign.objects.filter(pk=campaign_id).values("transactional").first()
    total = CampaignCounters.objects.filter(campaign_id=campaign_id).values("total").first()
    if connection.vendor != "postgresql" or not campaign or campaign["transactional"]:
        return {"campaign": campaign_id, "skipped": "not indexed"}
    if not total or total["total"] < FROM_MESSAGES:
        return {"campaign": campaign_id, "skipped": "small"}
    NumberIndex.objects.bulk_create(
        [NumberIndex(campaign_id=campaign_id, version=uuid.uuid4().hex)], ignore_conflicts=True
    )
    digits, messages = MessageDigits._meta.db_table, Message._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # One fill of a campaign at a time (two would write the same rows): another one is
        # skipped, and beat comes back if the one under way rolls back.
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK, campaign_id])
        if not cursor.fetchone()[0]:
            return {"campaign": campaign_id, "skipped": "being filled"}
        index = NumberIndex.objects.get(campaign_id=campaign_id)
        if index.built_at:
            return {"campaign": campaign_id, "skipped": "complete"}
        cursor.execute(f"DELETE FROM {digits} WHERE campaign_id = %s", [campaign_id])
        cursor.execute(
            f"INSERT INTO {digits} (message_id, campaign_id, digits) "
            f"SELECT id, campaign_id, substr(phone, 2) FROM {messages} "
            "WHERE campaign_id = %s AND phone LIKE '+%%' ORDER BY id",
            [campaign_id],
        )
        filled = cursor.rowcount
        built = NumberIndex.objects.filter(campaign_id=campaign_id, version=index.version)
        if not built.update(built_at=timezone.now()):
            transaction.set_rollback(True)
            return {"campaign": campaign_id, "skipped": "changed meanwhile"}
    with connection.cursor() as cursor:
        # The rows the index holds in its pending list are read by every search until
        # autovacuum merges them (371 pages after a million); and the planner's guess of how
        # many numbers match comes from the table's statistics.
        cursor.execute("SELECT gin_clean_pending_list('message_digits_trigram')")
        cursor.execute(f"ANALYZE {digits}")
    return {"campaign": campaign_id, "numbers": filled}


def holding(campaign: Campaign, digits: str, whole: str, starts: set[str]) -> QuerySet | None:
    """The ids of the campaign's messages whose number holds ``digits`` (typed without a plus),
    is ``whole`` or starts with one of ``starts`` (each "+<digits>"), from its complete index;
    None when there is none to use or too few digits for it."""
    if connection.vendor != "postgresql" or len(digits) < SHORTEST:
        return None
    # Each way to match, as digits the number must hold where it says: anywhere (0), at its
    # start (1) or as all of it (2). A whole number or a start holding the digits is a case of
    # holding them.
    ways = {(digits, ANYWHERE)}
    ways |= {(start[1:], AT_START) for start in starts if digits not in start}
    ways |= {(whole[1:], WHOLE)} if whole and digits not in whole else set()
    if min(len(text) for text, _ in ways) < SHORTEST:
        return None
    if not NumberIndex.objects.filter(campaign=campaign, built_at__isnull=False).exists():
        return None
    near, exactly = Q(), Q()
    for text, where in ways:
        near |= Q(digits__contains=text[-TAIL:])
        exactly |= _holds(text, where)
    numbers = MessageDigits.objects.filter(near, exactly, campaign=campaign)
    return numbers.values("message_id")


def _holds(text: str, where: int) -> Q:
    """The number holds ``text`` where ``where`` says, in terms no index answers: PostgreSQL
    then looks up only the trigrams of ``near``, the last digits, that few numbers share. The
    first ones of what people type (a country code, an operator's prefix) are in most numbers
    of a campaign, and a trigram index checks every candidate against each of its trigrams'
    lists: a search for "77011234567" read 850 pages of the index in 23-34 ms, for "34567"
    25 pages in 0.4 ms. lower() leaves digits as they are; it hides them from the index and
    has PostgreSQL guess how many match by the pattern's length, where a function compared
    with a number is guessed a third of the rows, which had it walk the table in order for
    rare digits."""
    digits = Lower("digits")
    if where == ANYWHERE:
        return Q(Contains(digits, text))
    return Q(StartsWith(digits, text)) if where == AT_START else Q(Exact(digits, text))
