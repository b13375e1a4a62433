"""Times are typed and read in the workspace's time zone, and every time shown is labelled with it.

Almaty is east of UTC (UTC+5, no daylight saving), New York west of it, and Warsaw changes its
clocks: 2030-03-31 02:00 jumps to 03:00, 2030-10-27 03:00 goes back to 02:00.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Campaign, CounterSnapshot, Message
from core.statuses import CampaignStatus
from providers.base import AccountInfo
from workspaces.models import Role

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")


def in_zone(acme, name: str):
    acme.workspace.time_zone = name
    acme.workspace.save()


def send_at(client, campaign, value: str):
    return client.post(
        reverse("campaign_options", args=[campaign.pk]),
        {"send_at": value},
        headers={"HX-Request": "true"},
    )


def start_of(campaign) -> datetime | None:
    return Campaign.objects.get(pk=campaign.pk).start_at


@pytest.fixture
def sender(as_role):
    return as_role(Role.SENDER)


# --- Send at ----------------------------------------------------------------------------------


def test_send_at_east_of_utc_is_read_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    send_at(sender, acme.campaign, "2030-12-06T13:52")
    assert start_of(acme.campaign) == datetime(2030, 12, 6, 8, 52, tzinfo=UTC)

    page = sender.get(reverse("campaign_launch", args=[acme.campaign.pk])).text
    assert "2030-12-06 13:52 (Asia/Almaty)" in page


def test_send_at_west_of_utc_an_hour_ahead_is_not_in_the_past(sender, acme):
    in_zone(acme, "America/New_York")
    wanted = (timezone.now() + timedelta(hours=1)).astimezone(zoneinfo.ZoneInfo("America/New_York"))
    response = send_at(sender, acme.campaign, f"{wanted:%Y-%m-%dT%H:%M}")
    assert "This time has passed" not in response.text
    assert start_of(acme.campaign) == wanted.replace(second=0, microsecond=0)


def test_a_past_send_at_says_what_time_it_is_in_the_workspace(sender, acme):
    in_zone(acme, "America/New_York")
    earlier = (timezone.now() - timedelta(hours=1)).astimezone(
        zoneinfo.ZoneInfo("America/New_York")
    )
    response = send_at(sender, acme.campaign, f"{earlier:%Y-%m-%dT%H:%M}")
    assert "This time has passed" in response.text
    assert "in America/New_York" in response.text
    assert start_of(acme.campaign) is None


def test_send_at_follows_daylight_saving_time(sender, acme):
    in_zone(acme, "Europe/Warsaw")
    send_at(sender, acme.campaign, "2030-01-10T12:00")
    assert start_of(acme.campaign) == datetime(2030, 1, 10, 11, 0, tzinfo=UTC)
    send_at(sender, acme.campaign, "2030-07-10T12:00")
    assert start_of(acme.campaign) == datetime(2030, 7, 10, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        (
            "2030-03-31T02:30",
            "02:30 on 31 March 2030 does not exist in Europe/Warsaw: the clocks go forward",
        ),
        (
            "2030-10-27T02:30",
            "02:30 on 27 October 2030 happens twice in Europe/Warsaw: the clocks go back",
        ),
    ],
)
def test_a_send_at_the_clocks_skip_or_repeat_is_refused(sender, acme, typed, why):
    in_zone(acme, "Europe/Warsaw")
    response = send_at(sender, acme.campaign, typed)
    message = f"Send at: {why} an hour that day. Choose a time before 02:00 or from 03:00."
    assert message in response.text
    assert start_of(acme.campaign) is None


def test_the_send_at_field_shows_the_saved_time_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    acme.campaign.start_at = datetime(2030, 12, 6, 8, 52, tzinfo=UTC)
    acme.campaign.save()
    page = sender.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert 'value="2030-12-06 13:52:00"' in page
    assert "In the workspace’s time zone, Asia/Almaty." in page  # noqa: RUF001


# --- Times shown ------------------------------------------------------------------------------


def test_the_campaign_page_shows_every_time_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    Campaign.objects.filter(pk=acme.campaign.pk).update(
        status=CampaignStatus.SCHEDULED,
        launched_at=datetime(2030, 12, 6, 3, 57, tzinfo=UTC),
        start_at=datetime(2030, 12, 6, 5, 0, tzinfo=UTC),
    )
    page = sender.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "Launched 2030-12-06 08:57 (Asia/Almaty)" in " ".join(_text(page).split())
    assert "Starts 2030-12-06 10:00 (Asia/Almaty)" in " ".join(_text(page).split())


def test_the_launch_confirmation_gives_the_start_in_the_workspace_zone(sender, acme, monkeypatch):
    funds = AccountInfo(currency=acme.account.currency, balance=Decimal(1000))
    monkeypatch.setattr("campaigns.pages.sending.account_funds", lambda campaign: funds)
    in_zone(acme, "Asia/Almaty")
    Campaign.objects.filter(pk=acme.campaign.pk).update(
        text="Hello", sender=acme.sender.value, start_at=datetime(2030, 12, 6, 8, 52, tzinfo=UTC)
    )
    Message.objects.create(campaign=acme.campaign, phone="+77011234567", country="KZ")
    response = sender.post(reverse("campaign_launch", args=[acme.campaign.pk]), follow=True)
    assert "It starts at 2030-12-06 13:52 (Asia/Almaty)." in response.text


def test_the_recipient_table_shows_updates_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    Campaign.objects.filter(pk=acme.campaign.pk).update(status=CampaignStatus.SENDING)
    message = Message.objects.create(campaign=acme.campaign, phone="+77011234567", country="KZ")
    Message.objects.filter(pk=message.pk).update(
        updated_at=datetime(2030, 12, 6, 3, 57, 1, tzinfo=UTC)
    )
    page = sender.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert "2030-12-06 08:57:01" in page
    assert "Updated (Asia/Almaty)" in page


def test_the_progress_chart_axis_is_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    Campaign.objects.filter(pk=acme.campaign.pk).update(status=CampaignStatus.SENDING)
    for minute in (0, 30):
        CounterSnapshot.objects.create(
            campaign=acme.campaign,
            taken_at=datetime(2030, 12, 6, 3, minute, tzinfo=UTC),
            counts={"pending": 1, "delivered": minute},
        )
    page = sender.get(reverse("campaign_detail", args=[acme.campaign.pk])).text
    assert ">08:00<" in page and ">08:30<" in page


def test_the_campaign_list_shows_times_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    Campaign.objects.filter(pk=acme.campaign.pk).update(
        created_at=datetime(2030, 12, 6, 3, 57, tzinfo=UTC),
        start_at=datetime(2030, 12, 6, 5, 0, tzinfo=UTC),
    )
    page = sender.get(reverse("campaign_list")).text
    assert "2030-12-06 08:57" in page and "2030-12-06 10:00" in page
    assert "Times in Asia/Almaty" in page


def test_the_audit_log_shows_times_in_the_workspace_zone(as_role, acme):
    in_zone(acme, "Asia/Almaty")
    event = AuditEvent.objects.create(workspace=acme.workspace, action="campaign_launched")
    AuditEvent.objects.filter(pk=event.pk).update(
        created_at=datetime(2030, 12, 6, 3, 57, tzinfo=UTC)
    )
    page = as_role(Role.OWNER).get(reverse("audit_log")).text
    assert "6 Dec 2030, 08:57" in page
    assert "When (Asia/Almaty)" in page


def test_an_import_shows_when_it_was_uploaded_in_the_workspace_zone(sender, acme):
    in_zone(acme, "Asia/Almaty")
    imp = acme.recipient_import
    type(imp).objects.filter(pk=imp.pk).update(created_at=datetime(2030, 12, 6, 3, 57, tzinfo=UTC))
    page = sender.get(reverse("import_detail", args=[imp.pk])).text
    assert "2030-12-06 08:57 (Asia/Almaty)" in page


def test_the_zone_follows_the_workspace_switched_to(client, acme, globex):
    from workspaces.models import Membership

    in_zone(acme, "Asia/Almaty")
    globex.workspace.time_zone = "America/New_York"
    globex.workspace.save()
    sam = acme.user(Role.SENDER)
    Membership.objects.create(user=sam, workspace=globex.workspace, role=Role.SENDER)
    client.force_login(sam)
    assert "Times in Asia/Almaty" in client.get(reverse("campaign_list")).text
    client.post(reverse("switch_workspace"), {"workspace": globex.workspace.pk})
    assert "Times in America/New_York" in client.get(reverse("campaign_list")).text


def _text(html: str) -> str:
    """The page without its tags, for sentences that a <time> element splits."""
    return re.sub(r"<[^>]+>", "", html)


def test_the_overview_names_the_zone_and_when_balances_were_checked(as_role, acme):
    in_zone(acme, "Asia/Almaty")
    checked = timezone.now() - timedelta(hours=1)
    acme.account.balance, acme.account.balance_checked_at = Decimal(5), checked
    acme.account.save()
    page = as_role(Role.OWNER).get(reverse("overview")).text
    assert "times in Asia/Almaty" in page
    assert f'title="{checked.astimezone(ALMATY):%Y-%m-%d %H:%M} (Asia/Almaty)"' in page
