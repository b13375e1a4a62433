"""campaigns.engagement.roll_up: contacts' last sent and delivered dates from the batches
updated since it last read them."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from campaigns import engagement
from campaigns.models import Batch, Message
from contacts.models import Contact
from core.statuses import BatchStatus, MessageStatus
from tests.campaigns.history_kit import campaign_with

NOW = timezone.now()


def sent_batch(tenant, phones: dict[str, str], *, submitted_at=NOW, delivered_at=NOW) -> Batch:
    campaign = campaign_with(tenant, f"Campaign {Batch.objects.count()}", phones)
    batch = Batch.objects.create(
        campaign=campaign,
        key=f"k{Batch.objects.count()}",
        status=BatchStatus.SUBMITTED,
        submitted_at=submitted_at,
    )
    campaign.messages.update(batch=batch, updated_at=delivered_at)
    return batch


def dates(contact: Contact) -> tuple:
    contact.refresh_from_db()
    return contact.last_sent_at, contact.last_delivered_at


def test_a_delivered_message_sets_both_dates(acme):
    sent, delivered = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    sent_batch(acme, {acme.contact.phone: MessageStatus.DELIVERED}, submitted_at=sent,
               delivered_at=delivered)  # fmt: skip

    assert engagement.roll_up() == {"batches": 1, "contacts": 1}
    assert dates(acme.contact) == (sent, delivered)


def test_an_undelivered_message_sets_only_the_sent_date(acme):
    sent_batch(acme, {acme.contact.phone: MessageStatus.UNDELIVERED})

    engagement.roll_up()

    assert dates(acme.contact) == (NOW, None)


def test_a_message_never_handed_over_sets_nothing(acme):
    sent_batch(acme, {acme.contact.phone: MessageStatus.FAILED})

    engagement.roll_up()

    assert dates(acme.contact) == (None, None)


def test_only_the_batches_workspace_is_updated(acme, globex):
    theirs = globex.contact  # the same number in another workspace
    sent_batch(acme, {acme.contact.phone: MessageStatus.DELIVERED})

    engagement.roll_up()

    assert dates(theirs) == (None, None)
    assert dates(acme.contact) == (NOW, NOW)


def test_dates_never_move_backwards(acme):
    sent_batch(acme, {acme.contact.phone: MessageStatus.DELIVERED})
    earlier = NOW - timedelta(days=3)
    sent_batch(acme, {acme.contact.phone: MessageStatus.DELIVERED}, submitted_at=earlier,
               delivered_at=earlier)  # fmt: skip

    engagement.roll_up()

    assert dates(acme.contact) == (NOW, NOW)


def test_a_batch_is_read_again_only_once_it_changes(acme):
    batch = sent_batch(acme, {acme.contact.phone: MessageStatus.SENT})
    engagement.roll_up()

    unchanged = engagement.roll_up()
    later = NOW + timedelta(minutes=5)
    Message.objects.filter(batch=batch).update(status=MessageStatus.DELIVERED, updated_at=later)
    Batch.objects.filter(pk=batch.pk).update(updated_at=later)
    changed = engagement.roll_up()

    assert unchanged == {"batches": 0, "contacts": 0}
    assert changed == {"batches": 1, "contacts": 1}
    assert dates(acme.contact) == (NOW, later)


def test_one_run_reads_at_most_its_limit_of_batches_the_oldest_first(acme):
    first = sent_batch(acme, {acme.contact.phone: MessageStatus.DELIVERED})
    second = sent_batch(acme, {"+77010000001": MessageStatus.DELIVERED})

    engagement.roll_up(limit=1)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.rolled_up_at == first.updated_at and second.rolled_up_at is None
