"""A stop racing a worker's flip of a claimed batch to submitting (found by review,
reproduced first): the stop read the claimed batches' ids, then cancelled the batches still
claimed and every submitting message of those ids, so a batch flipped in between was sent
while its messages showed "stopped before this message was sent". The stop now locks the
batches it cancels: the worker's flip waits, then finds the batch cancelled and sends nothing.
PostgreSQL only (SQLite's write lock serialises them)."""

from __future__ import annotations

import builtins
import threading

import pytest
from django.db import connection, connections

from campaigns import services
from campaigns.models import Batch, Message
from campaigns.sending import engine
from core.statuses import MessageStatus
from tests.sendkit import campaign_for, ledger, sandbox_account

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_flipped_while_the_stop_runs_is_sent_or_cancelled_never_both(
    settings, acme, live_server, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("a race between two connections")
    settings.CRIER_SEND_BATCH_SIZE = 10
    account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, account, 10)
    held = engine.HeldBatch(campaign, *engine.claim(campaign))
    seen = {}

    def worker():  # HeldBatch._submit up to the request, on its own connection
        try:
            flipped = held._flip()  # the engine's own commit before the call
            seen["flipped"] = flipped
            spec, outgoing, state = held._request()
            seen["request"] = (spec, list(outgoing), state)
        finally:
            connections.close_all()

    real_list = builtins.list
    fired, workers = [], []

    def hooked_list(iterable=(), /):
        result = real_list(iterable)
        if not fired and getattr(iterable, "model", None) is Batch:
            fired.append(1)
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join(timeout=2)  # it waits for the stop's lock: the stop goes on
            workers.append(thread)
        return result

    monkeypatch.setattr(services, "list", hooked_list, raising=False)
    services.stop(campaign, acme.user("sender"))
    monkeypatch.undo()
    workers[0].join(timeout=10)
    assert seen["flipped"] == 0  # the flip waited for the stop and found the batch cancelled
    assert ledger(remote)["charges"] == 0
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        MessageStatus.CANCELLED
    }
