"""A contact opted out at any moment before a message is claimed for sending is never sent to:
the engine (campaigns.sending.engine) checks the opt-outs in the claim and once more after the
claim committed, right before the batch's first request. Every figure comes from the
sandbox's charge ledger."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from campaigns.sending import engine as sending
from contacts import book
from core.statuses import BatchStatus, MessageStatus
from providers.sandbox.models import Charge
from tests.campaigns.test_sending import drain
from tests.sendkit import campaign_for, ledger, sandbox_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]
SEND_BATCH_SIZE = 200

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite lets one writer at a time: no opt-out can commit inside an open claim",
)


@pytest.fixture
def wire(acme, live_server):
    """``wire(slug, recipients)``: a sending campaign on a fresh sandbox account."""

    def make(slug: str, recipients: int):
        account, remote = sandbox_account(acme.workspace, slug, live_server.url)
        return campaign_for(acme.workspace, account, recipients), remote

    return make


def charged(remote) -> set[str]:
    return set(Charge.objects.active().filter(account=remote).values_list("phone", flat=True))


def test_a_number_opted_out_between_the_claim_and_the_request_is_not_sent(wire):
    campaign, remote = wire("bsg", 10)
    batch, token = sending.claim(campaign)

    book.opt_out(campaign.workspace, ["+77010000004"], actor=None, where="page")
    sending.HeldBatch(campaign, batch, token).process()

    assert "+77010000004" not in charged(remote)
    assert ledger(remote)["charges"] == 9
    cancelled = campaign.messages.get(phone="+77010000004")
    assert cancelled.status == MessageStatus.CANCELLED and cancelled.error_code == "stop_listed"
    batch.refresh_from_db()
    assert (batch.size, batch.accepted) == (9, 9)


def test_a_batch_whose_every_number_opted_out_after_the_claim_is_cancelled(wire):
    campaign, remote = wire("bsg", 3)
    batch, token = sending.claim(campaign)

    book.opt_out(
        campaign.workspace,
        ["+77010000000", "+77010000001", "+77010000002"],
        actor=None,
        where="page",
    )

    assert sending.HeldBatch(campaign, batch, token).process() == "cancelled"
    assert ledger(remote)["charges"] == 0
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLED


@postgres_only
def test_an_opt_out_committed_while_the_claim_is_open_is_not_sent(wire, monkeypatch):
    """The claim's own check has run; another connection commits an opt-out before the claim
    commits. The message was claimed after the opt-out, so it must not go."""
    campaign, remote = wire("bsg", 10)
    real_cancel = sending._cancel_stop_listed

    def cancel_then_opt_out_elsewhere(campaign_, batch):
        cancelled = real_cancel(campaign_, batch)
        worker = threading.Thread(target=_opt_out, args=(campaign.workspace, "+77010000005"))
        worker.start()
        worker.join()
        return cancelled

    monkeypatch.setattr(sending, "_cancel_stop_listed", cancel_then_opt_out_elsewhere)
    batch, token = sending.claim(campaign)
    monkeypatch.setattr(sending, "_cancel_stop_listed", real_cancel)
    assert campaign.messages.get(phone="+77010000005").status == MessageStatus.SUBMITTING

    sending.HeldBatch(campaign, batch, token).process()

    assert "+77010000005" not in charged(remote)
    assert ledger(remote)["charges"] == 9


def _opt_out(workspace, number: str) -> None:
    try:
        book.opt_out(workspace, [number], actor=None, where="page")
    finally:
        connections.close_all()


@postgres_only
def test_opt_outs_racing_a_send_never_reach_a_number_opted_out_before_its_claim(wire, monkeypatch):
    """A thread opts numbers out one after another while the engine sends in small batches.
    Every number whose opt-out had committed before its batch's claim returned is never
    charged; every message ends sent or cancelled, none twice."""
    campaign, remote = wire("bsg", 300)
    monkeypatch.setattr("django.conf.settings.CRIER_SEND_BATCH_SIZE", 20)
    claimed_at: dict[int, float] = {}
    real_claim = sending.claim

    def timed_claim(campaign_):
        result = real_claim(campaign_)
        if result is not None:
            claimed_at[result[0].pk] = time.perf_counter()
        return result

    monkeypatch.setattr(sending, "claim", timed_claim)
    opted_at: dict[str, float] = {}
    done = threading.Event()

    def opt_out_all():
        try:
            for n in range(0, 300, 3):  # every third number, in order, as the engine goes
                number = f"+7701{n:07d}"
                book.opt_out(campaign.workspace, [number], actor=None, where="page")
                opted_at[number] = time.perf_counter()
                if done.is_set():
                    return
                time.sleep(0.003)
        finally:
            connections.close_all()

    racer = threading.Thread(target=opt_out_all)
    racer.start()
    try:
        drain(campaign)
    finally:
        done.set()
        racer.join()

    billed = charged(remote)
    batch_of = dict(campaign.messages.values_list("phone", "batch_id"))
    too_late = {
        number
        for number, when in opted_at.items()
        if batch_of.get(number) is None or when < claimed_at.get(batch_of[number], 0)
    }
    assert too_late, "the race never had an opt-out land before a claim"
    assert not (too_late & billed)
    assert ledger(remote)["phones_charged_twice"] == 0
    statuses = set(campaign.messages.values_list("status", flat=True))
    assert statuses <= {MessageStatus.QUEUED, MessageStatus.CANCELLED}
    assert len(billed) + campaign.messages.filter(status=MessageStatus.CANCELLED).count() == 300
