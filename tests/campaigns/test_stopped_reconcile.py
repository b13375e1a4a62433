"""A batch whose fate is unknown (its request went out, the answer never came) is looked up
at the provider even after its campaign was stopped or paused, so its messages end with a
true status, not "submitting" or "unknown" for ever (found by review: only a sending
campaign's batches were ever reconciled). A lookup that proves the provider never took a
stopped campaign's batch cancels it; nothing is sent again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.compose.outgoing import messages_for, spec_for
from campaigns.models import Batch, Campaign, Message
from campaigns.sending import engine
from campaigns.tracking import polling
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.base import BatchState
from providers.errors import AuthError
from tests.sendkit import campaign_for, ledger, sandbox_account, statuses, tick

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lost_answer(settings, acme, live_server):
    """A BSG campaign of 20 whose first batch of 10 a worker was submitting when it died
    two minutes ago: ``took`` says whether the provider got it."""
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_SEND_BACKOFF_CAP = 0.1
    settings.CRIER_PROVIDER_TIMEOUT = 20.0  # a loaded machine's live server is slow
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 1.0

    def make(took: bool):
        account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
        campaign = campaign_for(acme.workspace, account, 20)
        batch, _token = engine.claim(campaign)
        if took:
            with account.adapter() as adapter:
                adapter.submit(
                    spec_for(campaign, sending=True),
                    messages_for(campaign, Message.objects.filter(batch=batch)),
                    BatchState(key=batch.key),
                )
        Batch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.SUBMITTING,
            last_request_at=timezone.now() - timedelta(minutes=2),
            lease_until=timezone.now() - timedelta(seconds=1),
        )
        return campaign, batch, remote

    return make


def ticks(n: int = 3) -> None:
    for _ in range(n):
        tick(budget=2)


@pytest.mark.parametrize("took", [True, False])
def test_a_stopped_campaigns_unknown_batch_is_still_looked_up(lost_answer, acme, took):
    campaign, batch, remote = lost_answer(took)
    services.stop(campaign, acme.user("sender"))

    ticks()

    batch.refresh_from_db()
    mine = Message.objects.filter(batch=batch)
    if took:
        assert batch.status == BatchStatus.SUBMITTED, batch.last_error
        polling.poll(Campaign.objects.get(pk=campaign.pk))  # the tracker's next poll
        batch.refresh_from_db()
        assert batch.cost, "the provider's bill for the batch was never read"
        assert set(mine.values_list("status", flat=True)) <= {
            MessageStatus.QUEUED,
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
        }, statuses(campaign)
    else:
        assert batch.status == BatchStatus.CANCELLED, batch.last_error
        assert set(mine.values_list("status", flat=True)) == {MessageStatus.CANCELLED}
    assert ledger(remote) == {"charges": 10 if took else 0, "phones_charged_twice": 0}
    assert not campaign.messages.filter(
        status__in=[MessageStatus.PENDING, MessageStatus.SUBMITTING]
    ).exists()


@pytest.mark.parametrize("took", [True, False])
def test_a_paused_campaigns_unknown_batch_is_looked_up_and_nothing_more_goes(
    lost_answer, acme, took
):
    campaign, batch, remote = lost_answer(took)
    services.pause(campaign, acme.user("sender"))

    ticks()

    batch.refresh_from_db()
    if took:
        assert batch.status == BatchStatus.SUBMITTED, batch.last_error
    else:  # proved never taken: it waits, claimed, for the resume
        assert batch.status == BatchStatus.CLAIMED, batch.last_error
    assert ledger(remote) == {"charges": 10 if took else 0, "phones_charged_twice": 0}
    assert campaign.messages.filter(status=MessageStatus.PENDING).count() == 10


def test_a_refused_lookup_of_a_paused_campaign_is_not_retried_at_once(acme, settings, monkeypatch):
    """Found by review: a lookup refused for credentials (or funds) was retried with a wait of
    0, and pausing an already paused campaign does nothing, so the worker asked the provider
    again at once, in a tight loop, until its time ran out (50 lookups in 2 s)."""
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 0.0
    account, _remote = sandbox_account(acme.workspace, "bsg", "http://127.0.0.1:9")
    campaign = campaign_for(acme.workspace, account, 20)
    batch, _token = engine.claim(campaign)
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.UNKNOWN,
        last_request_at=timezone.now() - timedelta(minutes=2),
        lease_until=None,
        next_attempt_at=None,
    )
    # Credentials refused: the campaign was paused, with this batch's fate still unknown.
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.PAUSED, next_attempt_at=timezone.now(), lease_until=None
    )
    calls = []

    def refused(self, spec, messages, state):
        calls.append(1)
        raise AuthError("The provider did not accept the account's credentials.")

    adapter_class = account.adapter_class
    monkeypatch.setattr(adapter_class, "reconcile", refused)
    tick(budget=2)
    assert len(calls) <= 2, f"{len(calls)} lookups in one 2-second run"
