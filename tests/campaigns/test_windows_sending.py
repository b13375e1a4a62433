"""Sending windows, "send at HH:MM local time" and deadlines through the sending engine, against
the sandbox over real HTTP, with a frozen clock (time-machine) that ticks.

Every claim of "nothing went outside the window" is checked against the sandbox's charge
ledger: each charge's time, read in its phone's zone, must fall inside the window.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from campaigns import services, windows
from campaigns.models import Batch, Message
from campaigns.sending import engine
from core import windows as core_windows
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.sandbox.models import Charge
from tests.sendkit import campaign_for, ledger, sandbox_account, statuses

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]
SEND_BATCH_SIZE = 50

DAILY = "Mon-Sun 09:00-20:00"
ZONES = {"+7727": "Asia/Almaty", "+4930": "Europe/Berlin"}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def two_zones(acme, live_server):
    """``two_zones(**fields)``: a sending campaign on the BSG sandbox with 30 recipients in
    Almaty (UTC+5) and 30 in Berlin (UTC+1, +2 in summer), their zones fixed as at launch."""

    def make(**fields):
        account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
        campaign = campaign_for(acme.workspace, account, 0, **fields)
        Message.objects.bulk_create(
            Message(campaign=campaign, phone=f"{prefix}{n:07d}", country=country)
            for prefix, country in (("+7727", "KZ"), ("+4930", "DE"))
            for n in range(30)
        )
        windows.assign_zones(campaign)
        return campaign, remote

    return make


def run(campaign) -> None:
    try:
        engine.run(campaign.pk, budget=5)
    finally:
        engine.release(campaign.pk)
    campaign.refresh_from_db()


def sent_phones(campaign) -> set[str]:
    handed = campaign.messages.exclude(status=MessageStatus.PENDING)
    return set(handed.values_list("phone", flat=True))


def assert_charged_inside(remote, window: str) -> None:
    parsed = core_windows.parse(window)
    for phone, at in Charge.objects.filter(account=remote).values_list("phone", "created_at"):
        zone = ZONES[f"+{phone.lstrip('+')[:4]}"]
        assert parsed.is_open(zone, at), (phone, at, zone)


def test_zones_are_fixed_at_launch_from_the_number_prefixes(two_zones):
    campaign, _remote = two_zones(send_window=DAILY)
    assert campaign.zones == {
        "counts": {"Asia/Almaty": 30, "Europe/Berlin": 30},
        "prefixes": {"+772": "Asia/Almaty", "+49": "Europe/Berlin"},  # phonenumbers' own
    }
    assert set(campaign.messages.values_list("time_zone", flat=True)) == {""}  # no rewrite


def test_a_contacts_stored_zone_beats_the_numbers(two_zones):
    with time_machine.travel(utc(2026, 12, 7, 6, 0), tick=True):  # 11:00 Almaty, 07:00 Berlin
        campaign, _remote = two_zones(send_window=DAILY)
        Message.objects.filter(campaign=campaign, phone__startswith="+4930").update(
            time_zone="Asia/Almaty"  # Berlin numbers of people who live in Almaty
        )
        windows.assign_zones(campaign)
        assert windows.zone_keys(campaign) == {"Asia/Almaty": 60}
        run(campaign)
        assert campaign.status == CampaignStatus.SENT


def test_a_longer_prefix_decides_its_own_numbers():
    from campaigns.models import Campaign

    campaign = Campaign(zones={"prefixes": {"+7": "Europe/Moscow", "+7301": "Asia/Irkutsk"}})
    moscow_only = Message.objects.filter(windows._in_zones(campaign, {"Europe/Moscow"}))
    sql = str(moscow_only.query)
    assert "+7%" in sql and "NOT" in sql and "+7301%" in sql


def test_only_open_zones_go_and_the_rest_wait_across_the_dst_change(two_zones):
    # Sunday 2026-03-29, the night Berlin moved to summer time: 06:30 UTC is 08:30 in Berlin
    # (closed) and 11:30 in Almaty (open). Berlin opens at 09:00 CEST, 07:00 UTC.
    with time_machine.travel(utc(2026, 3, 29, 6, 30), tick=True):
        campaign, remote = two_zones(send_window=DAILY)
        run(campaign)
        assert {p[:5] for p in sent_phones(campaign)} == {"+7727"}
        assert campaign.status == CampaignStatus.SENDING
        assert campaign.next_attempt_at == utc(2026, 3, 29, 7, 0)
        assert windows.next_opening(campaign, utc(2026, 3, 29, 6, 30)) == (
            utc(2026, 3, 29, 7, 0),
            "Europe/Berlin",
        )
    with time_machine.travel(utc(2026, 3, 29, 7, 0, 1), tick=True):
        run(campaign)
        assert campaign.status == CampaignStatus.SENT, statuses(campaign)
    assert ledger(remote) == {"charges": 60, "phones_charged_twice": 0}
    assert_charged_inside(remote, DAILY)


def test_beat_leaves_a_waiting_campaign_alone_until_its_window_opens(two_zones):
    with time_machine.travel(utc(2026, 12, 7, 2, 0), tick=True):  # 07:00 Almaty, 03:00 Berlin
        campaign, remote = two_zones(send_window=DAILY)
        run(campaign)
        assert sent_phones(campaign) == set()
        assert campaign.next_attempt_at == utc(2026, 12, 7, 4, 0)  # 09:00 in Almaty
        handed = []
        engine.dispatch_due(handed.append)
        assert handed == []
    with time_machine.travel(utc(2026, 12, 7, 4, 0, 1), tick=True):
        engine.dispatch_due(handed.append)
        assert handed == [campaign.pk]
        engine.release(campaign.pk)
        run(campaign)
        assert {p[:5] for p in sent_phones(campaign)} == {"+7727"}
    assert_charged_inside(remote, DAILY)


def test_a_window_that_opens_while_paused_sends_nothing(two_zones, acme):
    with time_machine.travel(utc(2026, 12, 7, 2, 0), tick=True):
        campaign, remote = two_zones(send_window=DAILY)
        run(campaign)
        services.pause(campaign, acme.user("sender"))
    with time_machine.travel(utc(2026, 12, 7, 9, 0), tick=True):  # both zones open
        handed = []
        engine.dispatch_due(handed.append)
        run(campaign)
        assert handed == [] and sent_phones(campaign) == set()
        assert campaign.status == CampaignStatus.PAUSED
    assert ledger(remote)["charges"] == 0


def test_send_at_local_time_goes_at_that_hour_in_each_zone(two_zones):
    start = utc(2026, 12, 7, 2, 0)
    with time_machine.travel(start, tick=True):
        campaign, remote = two_zones(send_at_local=time(10, 0), start_at=start)
        run(campaign)
        assert sent_phones(campaign) == set()
        assert campaign.next_attempt_at == utc(2026, 12, 7, 5, 0)  # 10:00 in Almaty
    with time_machine.travel(utc(2026, 12, 7, 5, 0, 1), tick=True):
        run(campaign)
        assert {p[:5] for p in sent_phones(campaign)} == {"+7727"}
        assert campaign.next_attempt_at == utc(2026, 12, 7, 9, 0)  # 10:00 in Berlin
    with time_machine.travel(utc(2026, 12, 7, 9, 0, 1), tick=True):
        run(campaign)
        assert campaign.status == CampaignStatus.SENT
    first = Charge.objects.filter(account=remote, phone__regex=r"^\+?4930").earliest("created_at")
    assert first.created_at >= utc(2026, 12, 7, 9, 0)


def test_a_deadline_before_the_window_expires_everything_unsent(two_zones):
    with time_machine.travel(utc(2026, 12, 7, 2, 0), tick=True):
        campaign, remote = two_zones(send_window=DAILY, deadline=utc(2026, 12, 7, 3, 0))
        run(campaign)
        assert campaign.next_attempt_at == utc(2026, 12, 7, 3, 0)  # the deadline comes first
    with time_machine.travel(utc(2026, 12, 7, 3, 0), tick=True):
        run(campaign)
    assert statuses(campaign) == {MessageStatus.CANCELLED: 60}  # never handed over
    reasons = set(campaign.messages.values_list("error_code", "error_reason"))
    assert reasons == {
        (
            "deadline",
            "Expired unsent: not handed over before the campaign's deadline, "
            "2026-12-07 03:00 (UTC).",
        )
    }
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.status_reason == (
        "60 messages expired unsent: "
        "not handed over before the campaign's deadline, 2026-12-07 03:00 (UTC)."
    )
    assert ledger(remote)["charges"] == 0


def test_a_batch_claimed_before_the_deadline_is_not_sent_after_it(two_zones):
    with time_machine.travel(utc(2026, 12, 7, 9, 0), tick=True):
        campaign, remote = two_zones(deadline=utc(2026, 12, 7, 9, 30))
        batch, _token = engine.claim(campaign)
        Batch.objects.filter(pk=batch.pk).update(lease_until=None)  # its worker died
    with time_machine.travel(utc(2026, 12, 7, 9, 31), tick=True):
        run(campaign)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLED
    assert statuses(campaign) == {MessageStatus.CANCELLED: 60}
    assert ledger(remote)["charges"] == 0


def test_before_the_deadline_everything_goes(two_zones):
    with time_machine.travel(utc(2026, 12, 7, 9, 0), tick=True):
        campaign, remote = two_zones(deadline=utc(2026, 12, 7, 10, 0))
        run(campaign)
        assert campaign.status == CampaignStatus.SENT
    assert ledger(remote)["charges"] == 60


def test_no_window_no_zones(two_zones):
    campaign, _remote = two_zones()
    assert campaign.zones == {} and windows.zone_keys(campaign) == {}
    assert set(campaign.messages.values_list("time_zone", flat=True)) == {""}


def test_the_plan_counts_recipients_per_local_hour_and_the_last_one():
    rules = windows.Rules(
        window=core_windows.parse(DAILY),
        send_at=None,
        start=utc(2026, 12, 7, 2, 0),
        deadline=None,
        fallback_zone="UTC",
    )
    plan = windows.plan(rules, {"Asia/Almaty": 300, "Europe/Berlin": 100}, per_hour=200)
    assert sum(plan.per_hour) == 400 and plan.never == 0
    assert all(n == 0 for hour, n in enumerate(plan.per_hour) if not 9 <= hour < 20)
    # Almaty opens at 04:00 UTC (09:00 there): 200 go in its 09:00 hour, 100 in its 10:00.
    # Berlin opens at 08:00 UTC (09:00 there): its 100 go in its 09:00 hour, by 08:30 UTC.
    assert plan.per_hour[9] == 300 and plan.per_hour[10] == 100
    assert plan.last_at == utc(2026, 12, 7, 8, 30)


def test_the_plan_counts_what_the_deadline_leaves_out():
    rules = windows.Rules(
        window=core_windows.parse(DAILY),
        send_at=None,
        start=utc(2026, 12, 7, 4, 0),
        deadline=utc(2026, 12, 7, 5, 0),
        fallback_zone="UTC",
    )
    plan = windows.plan(rules, {"Asia/Almaty": 300}, per_hour=100)
    assert sum(plan.per_hour) == 100 and plan.expired == 200


def test_spread_over_hours_sets_the_pace_at_launch(acme):
    campaign = acme.campaign
    campaign.text, campaign.sender, campaign.spread_hours = "Hi", acme.sender.value, 3
    campaign.save()
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701000{n:04d}", country="KZ") for n in range(30)
    )
    from decimal import Decimal

    from providers.base import AccountInfo

    acme.account.currency = "EUR"
    acme.account.save()
    services.launch(campaign, acme.user("sender"), funds=AccountInfo("EUR", Decimal(1000)))
    campaign.refresh_from_db()
    assert (campaign.rate_limit, campaign.rate_period) == (10, 3600)
    from audit.models import AuditEvent

    launched = AuditEvent.objects.get(action="campaign_launched")
    assert launched.details["spread_hours"] == 3 and "deadline" not in launched.details
    assert timedelta(seconds=3600 * 30 / campaign.rate_limit) == timedelta(hours=3)


def test_zones_that_never_share_an_open_hour_wait_without_busying_beat(two_zones):
    with time_machine.travel(utc(2026, 12, 7, 6, 0), tick=True):  # 11:00 Almaty, 07:00 Berlin
        campaign, remote = two_zones(send_window="Mon-Sun 10:00-12:00")
        Message.objects.filter(campaign=campaign, phone__startswith="+4930").update(
            time_zone="Asia/Almaty Europe/Berlin"  # as a prefix spanning both would be keyed
        )
        windows.assign_zones(campaign)
        run(campaign)
        assert {p[:5] for p in sent_phones(campaign)} == {"+7727"}
        assert windows.never_open(campaign, utc(2026, 12, 7, 6, 0)) == ["Asia/Almaty Europe/Berlin"]
        # Looked at again in an hour (the clock ticks while the test runs).
        assert utc(2026, 12, 7, 7, 0) <= campaign.next_attempt_at < utc(2026, 12, 7, 7, 1)
        handed = []
        engine.dispatch_due(handed.append)
        assert handed == [] and campaign.status == CampaignStatus.SENDING
    assert ledger(remote)["charges"] == 30
