"""A launch refuses a sending window that never opens (found by review: a window without a
day, or whose days are all holidays, launched a campaign that waited for ever): no open time
in the next 366 days for any of the campaign's zones. The refusal names the field."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from campaigns import services
from core.statuses import CampaignStatus
from tests.campaigns import test_launch
from tests.campaigns.test_launch import RICH
from workspaces.models import Workspace

draft = test_launch.draft  # a ready draft of 20 recipients in Kazakhstan


def saturdays(days: int = 400) -> str:
    today = date.today()
    found = (today + timedelta(days=n) for n in range(-2, days))
    return " ".join(day.isoformat() for day in found if day.weekday() == 5)


@pytest.mark.parametrize(
    ("window", "holidays"),
    [
        (";", ""),  # no day at all
        ("Sat 10:00-12:00", "saturdays"),  # every Saturday of the coming year a holiday
    ],
)
def test_a_window_that_never_opens_is_refused_naming_the_field(draft, acme, window, holidays):
    draft.send_window = window
    draft.save(update_fields=["send_window"])
    holidays = saturdays() if holidays else ""
    Workspace.objects.filter(pk=acme.workspace.pk).update(holidays=holidays)
    draft.refresh_from_db()

    assert any("Sending window" in p for p in services.readiness(draft, funds=RICH).problems)
    with pytest.raises(services.CampaignRuleError, match=r"Sending window.*never opens"):
        services.launch(draft, acme.user("sender"), funds=RICH)
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_a_window_that_opens_after_many_holidays_launches(draft, acme):
    draft.send_window = "Sat 10:00-12:00"
    draft.save(update_fields=["send_window"])
    Workspace.objects.filter(pk=acme.workspace.pk).update(holidays=saturdays(300))
    draft.refresh_from_db()

    campaign = services.launch(draft, acme.user("sender"), funds=RICH)

    assert campaign.status == CampaignStatus.SCHEDULED


def test_the_launch_page_shows_the_refusal(draft, as_role):
    draft.send_window = ";"
    draft.save(update_fields=["send_window"])
    page = as_role("sender").get(reverse("campaign_launch", args=[draft.pk])).text
    assert "Sending window" in page and "never opens" in page
