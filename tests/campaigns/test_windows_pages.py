"""Sending windows on the pages: the workspace default, a campaign's own window, local time,
deadline and spread in step 4, the plan in step 5, and what the campaign page says while it
waits."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from campaigns import windows
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus, MessageStatus
from workspaces.models import Role, Workspace

SETTINGS = {"name": "Acme", "default_country": "KZ", "time_zone": "Asia/Almaty", "currency": "KZT"}


def options(client, campaign, **data):
    url = reverse("campaign_options", args=[campaign.pk])
    return client.post(url, data, headers={"HX-Request": "true"})


def fresh(campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def test_the_workspace_window_and_holidays_are_saved_and_audited(as_role, acme):
    client = as_role(Role.ADMIN)
    page = client.get(reverse("workspace_settings")).text
    assert 'name="send_window"' in page and 'name="holidays"' in page
    client.post(
        reverse("workspace_settings"),
        SETTINGS
        | {
            "send_window": "Mon-Fri 09:00-20:00; Sat 10:00-18:00",
            "holidays": "2027-01-01 2026-12-31",
        },
    )
    workspace = Workspace.objects.get(pk=acme.workspace.pk)
    assert workspace.send_window == "Mon-Fri 09:00-20:00; Sat 10:00-18:00"
    assert workspace.holidays == "2026-12-31, 2027-01-01"
    event = AuditEvent.objects.get(action="workspace_changed")
    assert event.details["send_window"]["new"] == workspace.send_window


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"send_window": "weekdays"}, "Sending window: “weekdays” is not a rule like"),
        ({"send_window": "Mon 18:00-09:00"}, "Sending window: “Mon 18:00-09:00”: the end must"),
        ({"holidays": "31.12.2026"}, "Holidays: “31.12.2026” is not a date written as YYYY-MM-DD"),
    ],
)
def test_a_bad_workspace_window_is_refused_naming_the_field(as_role, acme, data, message):
    response = as_role(Role.ADMIN).post(reverse("workspace_settings"), SETTINGS | data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Workspace.objects.get(pk=acme.workspace.pk).send_window == ""


def test_senders_cannot_change_the_workspace_window(as_role, acme):
    response = as_role(Role.SENDER).post(
        reverse("workspace_settings"), SETTINGS | {"send_window": "Mon 09:00-10:00"}
    )
    assert response.status_code == 403
    assert Workspace.objects.get(pk=acme.workspace.pk).send_window == ""


def test_the_options_step_saves_window_local_time_deadline_and_spread(as_role, acme):
    deadline = (timezone.now() + timedelta(days=2)).astimezone(UTC)
    response = options(
        as_role(Role.SENDER),
        acme.campaign,
        send_window="Mon-Fri 09:00-20:00",
        send_at_local="10:00",
        deadline=deadline.strftime("%Y-%m-%dT%H:%M"),
        spread_hours=3,
    )
    assert 'data-testid="saved"' in response.text
    campaign = fresh(acme.campaign)
    assert campaign.send_window == "Mon-Fri 09:00-20:00"
    assert campaign.send_at_local == time(10, 0)
    assert campaign.spread_hours == 3
    assert campaign.deadline == deadline.replace(second=0, microsecond=0)  # the workspace is UTC


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"send_window": "Mon-Fri 9-5"}, "Sending window: “Mon-Fri 9-5” is not a rule"),
        ({"send_at_local": "25:00"}, "Send at, in each recipient&#x27;s time: write a time"),
        ({"deadline": "2020-01-01T10:00"}, "Don&#x27;t send after: this time has passed."),
        ({"deadline": "soon"}, "Enter a valid date/time."),
        ({"spread_hours": "0"}, "Spread evenly over: from 1 to 720 hours"),
        ({"spread_hours": "x"}, "Spread evenly over: write a whole number of hours."),
        (
            {"spread_hours": "3", "rate_limit": "10", "rate_period": "60"},
            "Spread evenly over: choose either a rate limit or a spread, not both.",
        ),
    ],
)
def test_bad_timing_is_refused_naming_the_field_and_nothing_is_saved(as_role, acme, data, message):
    response = options(as_role(Role.SENDER), acme.campaign, **data)
    assert response.status_code == 200
    assert message in response.text
    campaign = fresh(acme.campaign)
    assert (campaign.send_window, campaign.send_at_local, campaign.deadline) == ("", None, None)
    assert (campaign.spread_hours, campaign.rate_limit) == (None, None)


def test_a_deadline_before_the_send_time_is_refused(as_role, acme):
    start = timezone.now() + timedelta(days=2)
    response = options(
        as_role(Role.SENDER),
        acme.campaign,
        send_at=start.strftime("%Y-%m-%dT%H:%M"),
        deadline=(start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    )
    assert "Don&#x27;t send after: it must be after the send time." in response.text
    assert fresh(acme.campaign).deadline is None


def add_recipients(campaign, prefixes: dict[str, int]) -> None:
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"{prefix}{n:07d}", country=country)
        for (prefix, country), count in prefixes.items()
        for n in range(count)
    )


def test_the_plan_shows_recipients_per_local_hour_and_the_last_one(as_role, acme):
    campaign = acme.campaign
    campaign.send_window, campaign.rate_limit, campaign.rate_period = DAILY, 100, 3600
    campaign.start_at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    campaign.save()
    add_recipients(campaign, {("+7727", "KZ"): 150, ("+4930", "DE"): 50, ("+7701", "KZ"): 10})
    page = as_role(Role.VIEWER).get(reverse("campaign_plan", args=[campaign.pk])).text
    assert "Mon-Sun 09:00-20:00" in page and "Paced at 100 an hour" in page
    # 09:00 in Almaty is 04:00 UTC: its 160 go 100 then 60; Berlin's 50 at 09:00 there.
    assert '<td>09:00\u201309:59</td><td class="text-end">150</td>' in page
    assert '<td>10:00\u201310:59</td><td class="text-end">60</td>' in page
    assert "210 recipients in 3 time zones" in page
    assert "10 recipients have numbers whose prefix spans several time zones" in page
    assert 'data-testid="plan-last"' in page


def test_the_launch_page_shows_the_plan_before_anything_goes(as_role, acme):
    campaign = acme.campaign
    campaign.send_window = DAILY
    campaign.save()
    add_recipients(campaign, {("+7727", "KZ"): 5})
    page = as_role(Role.SENDER).get(reverse("campaign_launch", args=[campaign.pk])).text
    assert f'hx-get="{reverse("campaign_plan", args=[campaign.pk])}"' in page
    assert "each message within its recipient's sending window" in page
    assert "Send now" not in page  # the window decides when each goes


def test_no_plan_without_timing_rules(as_role, acme):
    add_recipients(acme.campaign, {("+7727", "KZ"): 5})
    page = as_role(Role.VIEWER).get(reverse("campaign_plan", args=[acme.campaign.pk])).text
    assert "send-plan" not in page


def test_a_foreign_campaigns_plan_is_404(as_role, globex):
    response = as_role(Role.VIEWER).get(reverse("campaign_plan", args=[globex.campaign.pk]))
    assert response.status_code == 404


DAILY = "Mon-Sun 09:00-20:00"


def test_the_campaign_page_says_which_window_it_waits_for(as_role, acme):
    campaign = acme.campaign
    campaign.send_window, campaign.status = DAILY, CampaignStatus.SENDING
    campaign.save()
    add_recipients(campaign, {("+7727", "KZ"): 5, ("+4930", "DE"): 5})
    windows.assign_zones(campaign)
    with time_machine.travel(datetime(2026, 12, 7, 2, 0, tzinfo=UTC)):
        page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert "Waiting for the window until 09:00 (Asia/Almaty)." in page
    with time_machine.travel(datetime(2026, 12, 7, 5, 0, tzinfo=UTC)):
        page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert "the others wait until 09:00 (Europe/Berlin)" in page


def test_the_campaign_page_counts_what_the_deadline_expired(as_role, acme):
    campaign = acme.campaign
    campaign.status = CampaignStatus.SENDING
    campaign.deadline = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    campaign.save()
    add_recipients(campaign, {("+7727", "KZ"): 4})
    with time_machine.travel(datetime(2026, 12, 7, 3, 1, tzinfo=UTC)):
        assert windows.expire_late(campaign) == 4
        page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert "4 messages expired unsent at the deadline" in page
    assert (
        campaign.messages.filter(status=MessageStatus.CANCELLED, error_code="deadline").count() == 4
    )


def test_a_running_campaign_follows_a_workspace_window_set_after_its_launch(as_role, acme):
    """Found by review (reproduced first): the workspace window applied only to campaigns
    launched while it had one; the settings page says "Campaigns send only inside these
    hours", so a running campaign without its own window follows the change."""
    campaign = acme.campaign
    campaign.status = CampaignStatus.SENDING
    campaign.save()
    add_recipients(campaign, {("+7727", "KZ"): 5, ("+4930", "DE"): 5})
    assert windows.zone_keys(campaign) == {}  # launched without any window
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 07:00 in Almaty, 03:00 in Berlin
    Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=now + timedelta(hours=9))

    with time_machine.travel(now):
        as_role(Role.ADMIN).post(reverse("workspace_settings"), SETTINGS | {"send_window": DAILY})
        campaign = fresh(campaign)
        pending = campaign.messages.filter(status=MessageStatus.PENDING)
        assert windows.open_now(campaign, pending).count() == 0  # nobody's window is open
        page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert windows.zone_keys(campaign) == {"Asia/Almaty": 5, "Europe/Berlin": 5}
    assert "Waiting for the window until 09:00 (Asia/Almaty)." in page
    assert "Sends within the workspace" in page and "applies to this campaign" in page
    # It wakes when the new window opens, not at the wait it had before.
    assert campaign.next_attempt_at == datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def test_a_campaign_with_its_own_window_keeps_it_when_the_workspace_changes(as_role, acme):
    campaign = acme.campaign
    campaign.send_window, campaign.status = DAILY, CampaignStatus.SENDING
    campaign.save()
    add_recipients(campaign, {("+7727", "KZ"): 5})
    windows.assign_zones(campaign)

    as_role(Role.ADMIN).post(
        reverse("workspace_settings"), SETTINGS | {"send_window": "Mon-Sun 00:00-23:59"}
    )

    page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[campaign.pk])).text
    assert fresh(campaign).send_window == DAILY
    assert "its own window" in page and "Sends within the workspace" not in page
