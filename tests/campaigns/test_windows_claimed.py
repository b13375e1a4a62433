"""A batch claimed while its recipients' windows were open, or held by the provider, is not
handed over after they closed or after the deadline; messages the deadline expired are not
counted as handed to the provider (found by review: each of these went out or was counted)."""

from __future__ import annotations

import pytest
import time_machine

from campaigns import services, windows
from campaigns.models import Batch, CampaignCounters, Message
from campaigns.pages import queries
from campaigns.sending import engine
from core import windows as core_windows
from core.statuses import CampaignStatus
from providers.sandbox.models import Charge
from tests.campaigns.test_windows_sending import DAILY, utc
from tests.sendkit import campaign_for, ledger, sandbox_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]
SEND_BATCH_SIZE = 50


@pytest.fixture
def almaty(acme, live_server):
    def make(**fields):
        account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
        campaign = campaign_for(acme.workspace, account, 0, **fields)
        Message.objects.bulk_create(
            Message(campaign=campaign, phone=f"+7727{n:07d}", country="KZ") for n in range(30)
        )
        windows.assign_zones(campaign)
        return campaign, remote

    return make


def run(campaign):
    try:
        engine.run(campaign.pk, budget=5)
    finally:
        engine.release(campaign.pk)
    campaign.refresh_from_db()


def assert_inside(remote):
    parsed = core_windows.parse(DAILY)
    for phone, at in Charge.objects.filter(account=remote).values_list("phone", "created_at"):
        assert parsed.is_open("Asia/Almaty", at), (
            phone,
            at.astimezone(core_windows.tz("Asia/Almaty")),
        )


def test_a_batch_claimed_in_the_window_is_not_sent_after_it_closes(almaty):
    # 14:59 UTC = 19:59 Almaty: open. The worker claims, then dies before its first request.
    with time_machine.travel(utc(2026, 12, 7, 14, 59), tick=True):
        campaign, remote = almaty(send_window=DAILY)
        batch, _token = engine.claim(campaign)
        Batch.objects.filter(pk=batch.pk).update(lease_until=None)
    # 17:00 UTC = 22:00 Almaty: closed. Nothing may go now.
    with time_machine.travel(utc(2026, 12, 7, 17, 0), tick=True):
        run(campaign)
    assert ledger(remote)["charges"] == 0, "sent at 22:00 local, outside 09:00-20:00"
    assert_inside(remote)


def test_a_claimed_batch_held_by_a_pause_is_not_sent_outside_the_window_on_resume(almaty, acme):
    with time_machine.travel(utc(2026, 12, 7, 14, 59), tick=True):
        campaign, remote = almaty(send_window=DAILY)
        batch, _token = engine.claim(campaign)
        Batch.objects.filter(pk=batch.pk).update(lease_until=None)
        services.pause(campaign, acme.user("sender"))
    with time_machine.travel(utc(2026, 12, 7, 18, 0), tick=True):  # 23:00 Almaty
        services.resume(campaign, acme.user("sender"))
        run(campaign)
    assert ledger(remote)["charges"] == 0, "resumed at 23:00 local: the held batch went out"


def test_messages_expired_by_the_deadline_are_not_counted_as_handed_over(almaty):
    with time_machine.travel(utc(2026, 12, 7, 2, 0), tick=True):  # 07:00 Almaty: closed
        campaign, remote = almaty(send_window=DAILY, deadline=utc(2026, 12, 7, 3, 0))
        run(campaign)
    with time_machine.travel(utc(2026, 12, 7, 3, 0, 1), tick=True):
        run(campaign)
    assert ledger(remote)["charges"] == 0
    assert campaign.status == CampaignStatus.FAILED
    counters = CampaignCounters.objects.get(campaign=campaign)
    figures = queries.figures(campaign, counters)
    assert figures.handed_over == 0, (
        f"{figures.handed_over} shown as handed to the provider; cost notes: {figures.cost.notes}"
    )


def test_a_batch_held_by_smsdrop_is_not_launched_after_the_deadline(acme, live_server):
    from decimal import Decimal

    from campaigns.models import Campaign
    from core.statuses import BatchStatus

    with time_machine.travel(utc(2026, 12, 7, 9, 0), tick=True):
        account, remote = sandbox_account(acme.workspace, "smsdrop", live_server.url)
        remote.balance = Decimal("0")  # no credits: smsdrop creates, does not launch
        remote.save(update_fields=["balance"])
        campaign = campaign_for(acme.workspace, account, 10, deadline=utc(2026, 12, 7, 9, 30))
        run(campaign)
        assert set(campaign.batches.values_list("status", flat=True)) == {BatchStatus.HELD}
    remote.balance = Decimal("1000")  # credits added the next day
    remote.save(update_fields=["balance"])
    with time_machine.travel(utc(2026, 12, 8, 9, 0), tick=True):
        Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=None)
        from campaigns.models import Batch as B

        B.objects.filter(campaign=campaign).update(next_attempt_at=None)
        run(campaign)
        late = Charge.objects.filter(
            account=remote, created_at__gte=utc(2026, 12, 7, 9, 30)
        ).count()
    assert late == 0, f"{late} messages launched a day after the deadline"


def test_a_provider_that_paces_itself_gets_crier_paced_batches_under_a_window(acme, live_server):
    """Found by review: Mobizon paces a batch itself, so Crier handed it 5,000 at once with
    the rate; a batch claimed just before the window closed (or the deadline) then trickled
    out after it. Under a window or a deadline, Crier paces such a campaign itself: each batch
    is one tick's worth and goes out at once."""
    account, _remote = sandbox_account(acme.workspace, "mobizon", live_server.url)
    assert account.adapter_class.capabilities.rate_limit  # it paces itself
    hourly = {"rate_limit": 600, "rate_period": 3600}
    plain = campaign_for(acme.workspace, account, 0, **hourly)
    windowed = campaign_for(acme.workspace, account, 0, send_window=DAILY, **hourly)
    windowed.zones = {"counts": {"Asia/Almaty": 10}, "prefixes": {"7727": "Asia/Almaty"}}
    late = campaign_for(acme.workspace, account, 0, deadline=utc(2030, 1, 1, 0, 0), **hourly)

    assert engine.batch_size(plain, account) == 50  # CRIER_SEND_BATCH_SIZE: Mobizon paces it
    assert engine.batch_size(windowed, account) == engine.pace(windowed)[0] == 1
    assert engine.batch_size(late, account) == 1
