"""Retry never offers what the deadline would expire at once (found by review: the retry
button counted, and sent back to pending, failed messages whose deadline had passed, or
whose recipients' windows did not open again before it). Past the deadline the page says so
and points to cloning; before it, only what can still go is counted and retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from campaigns import services, windows
from campaigns.models import Campaign, Message
from campaigns.pages.queries import counters_of
from campaigns.services import CampaignRuleError
from core.statuses import CampaignStatus, MessageStatus
from tests.sendkit import campaign_for

pytestmark = pytest.mark.django_db

DAILY = "Mon-Sun 09:00-20:00"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def failed_in_two_zones(acme):
    """A sent campaign, daily window 09:00-20:00 local, deadline 2026-12-07 15:30 UTC: 5
    failed messages in Almaty (UTC+5), 5 in Berlin (UTC+1)."""
    campaign = campaign_for(
        acme.workspace,
        acme.account,
        0,
        status=CampaignStatus.SENT,
        send_window=DAILY,
        deadline=utc(2026, 12, 7, 15, 30),
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"{prefix}{n:07d}", country=country)
        for prefix, country in (("+7727", "KZ"), ("+4930", "DE"))
        for n in range(5)
    )
    windows.assign_zones(campaign)
    campaign.messages.update(status=MessageStatus.FAILED, error_code="x")
    return Campaign.objects.get(pk=campaign.pk)


def plan(campaign):
    return services.retry_plan(campaign, counters_of(campaign))


def test_past_the_deadline_retry_offers_nothing_and_says_why(failed_in_two_zones, acme, as_role):
    campaign = failed_in_two_zones
    with time_machine.travel(utc(2026, 12, 7, 16, 0), tick=False):
        offer = plan(campaign)
        assert offer.again == 0
        assert "clone the campaign to send again" in offer.deadline_passed
        with pytest.raises(CampaignRuleError, match="deadline passed"):
            services.retry_failed(campaign, acme.user("sender"))
        page = as_role("sender").get(reverse("campaign_detail", args=[campaign.pk])).text
    assert campaign.messages.filter(status=MessageStatus.FAILED).count() == 10
    assert 'data-testid="retry"' not in page
    assert "the deadline passed at 2026-12-07" in " ".join(page.split()).lower()


def test_before_the_deadline_only_what_can_still_go_is_offered(failed_in_two_zones, acme):
    campaign = failed_in_two_zones
    # 15:10 UTC: 20:10 in Almaty (closed until 09:00 local, after the deadline), 16:10 in
    # Berlin (open).
    with time_machine.travel(utc(2026, 12, 7, 15, 10), tick=False):
        offer = plan(campaign)
        assert (offer.again, offer.too_late) == (5, 5)
        assert "before the deadline" in offer.confirmation
        assert services.retry_failed(campaign, acme.user("sender")) == 5
    back = campaign.messages.filter(status=MessageStatus.PENDING)
    assert set(back.values_list("country", flat=True)) == {"DE"}
    assert campaign.messages.filter(status=MessageStatus.FAILED, country="KZ").count() == 5


def test_without_a_deadline_every_failed_message_is_offered(failed_in_two_zones):
    campaign = failed_in_two_zones
    Campaign.objects.filter(pk=campaign.pk).update(deadline=None)
    campaign.refresh_from_db()
    with time_machine.travel(utc(2026, 12, 7, 15, 10), tick=False):
        assert (plan(campaign).again, plan(campaign).too_late) == (10, 0)
