"""What the engine writes around a batch (campaigns.sending.engine): one statement claims the
messages, none of them twice even when two claims race, and the progress notes of a submit
made of several calls are each saved beside the earlier ones."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction

from campaigns.models import Batch, Message
from campaigns.sending import engine as sending
from core.statuses import MessageStatus
from tests.sendkit import campaign_for, sandbox_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]
SEND_BATCH_SIZE = 200

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer at a time: no claim races"
)


@pytest.fixture
def sending_on(acme, live_server):
    """``sending_on(slug, recipients)``: a sending campaign on a fresh sandbox account."""

    def make(slug: str, recipients: int):
        account, _remote = sandbox_account(acme.workspace, slug, live_server.url)
        return campaign_for(acme.workspace, account, recipients)

    return make


def test_a_claim_takes_the_oldest_pending_messages_up_to_the_batch_size(sending_on):
    campaign = sending_on("bsg", 450)  # batches of 200 (the fast engine's)
    first, _token = sending.claim(campaign)
    second, _token = sending.claim(campaign)

    ids = list(campaign.messages.order_by("pk").values_list("pk", flat=True))
    mine = Message.objects.filter(batch=first, status=MessageStatus.SUBMITTING)
    assert list(mine.order_by("pk").values_list("pk", flat=True)) == ids[:200]
    assert (first.size, second.size) == (200, 200)
    assert campaign.messages.filter(status=MessageStatus.PENDING).count() == 50


@contextmanager
def locked_elsewhere(messages):
    """``messages`` row-locked by another connection (another worker's open claim) while the
    block runs."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(messages.select_for_update().values_list("pk", flat=True))
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    other = threading.Thread(target=hold)
    other.start()
    assert holding.wait(30)
    try:
        yield
    finally:
        release.set()
        other.join()


@postgres_only
def test_a_claim_skips_messages_another_claim_holds_and_leaves_no_empty_batch(sending_on):
    campaign = sending_on("bsg", 150)  # fewer than a batch: the other claim has them all
    with locked_elsewhere(campaign.messages.all()):
        assert sending.claim(campaign) is None

    assert not Batch.objects.filter(campaign=campaign).exists()
    assert campaign.messages.filter(status=MessageStatus.PENDING).count() == 150


def test_each_progress_note_is_saved_beside_the_earlier_ones(sending_on):
    campaign = sending_on("mobizon", 10)
    batch, token = sending.claim(campaign)
    held = sending.HeldBatch(campaign, batch, token)
    _spec, _outgoing, state = held._request()

    state.advanced(added_0=[["r1", True, "91", "", ""]])
    state.advanced(added_1=[["r2", False, "", "3", "Bad number"]])
    state.advanced(send_requested=True)

    batch.refresh_from_db()
    assert batch.progress == {
        "added_0": [["r1", True, "91", "", ""]],
        "added_1": [["r2", False, "", "3", "Bad number"]],
        "send_requested": True,
    }
    assert held.batch.progress == batch.progress  # what a retry in this worker goes on from
