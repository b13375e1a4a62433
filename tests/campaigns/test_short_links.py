"""Short links on the campaign page: tracking asks the provider for their clicks (Mobizon's
Campaign/GetLinks, through the sandbox) and the live part shows them in a small table, beside
the message the campaign sent."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Batch
from campaigns.pages import queries as pages
from campaigns.tracking import polling as tracking
from core.statuses import CampaignStatus
from providers.sandbox import clock
from tests.campaigns.test_tracking import _poll_until_completed
from tests.sendkit import campaign_for, sandbox_account, send_all

TEXT = "Spring sale: https://shop.example.kz/spring and https://shop.example.kz/faq"


@pytest.fixture
def mobizon(settings, acme, live_server, monkeypatch):
    """A factory of Mobizon sandbox campaigns, sent, with the sandbox clock frozen."""
    settings.CRIER_SEND_BATCH_SIZE = 40
    clock.reset()
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen + clock._offset)
    account, _remote = sandbox_account(acme.workspace, "mobizon", live_server.url)

    def make(text: str = TEXT, recipients: int = 100):
        campaign = campaign_for(acme.workspace, account, recipients, text=text)
        send_all(campaign)
        return campaign

    yield make
    clock.reset()


@pytest.mark.django_db(transaction=True)
def test_tracking_stores_each_batch_s_links_and_the_page_adds_them_up(mobizon, as_role):
    campaign = mobizon()

    _poll_until_completed(campaign)

    batches = list(campaign.batches.order_by("pk"))
    assert len(batches) == 3 and all(len(d.links) == 2 for d in batches)
    links = pages.short_links(campaign)
    spring = next(link for link in links if link["full_link"].endswith("/spring"))
    assert spring["clicks"] == sum(
        link["clicks"]
        for d in batches
        for link in d.links
        if link["full_link"] == spring["full_link"]
    )
    assert spring["clicks"] > 0 and spring["short_link"].startswith("https://mbz.kz/")
    html = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk])).text
    table = re.search(r'data-testid="short-links".*?</table>', html, re.S).group(0)
    assert f'data-clicks="{spring["clicks"]}"' in table
    assert '<a href="https://shop.example.kz/spring" rel="noopener noreferrer nofollow"' in table


@pytest.mark.django_db(transaction=True)
def test_links_are_asked_for_every_five_minutes_and_once_more_at_the_end(mobizon):
    campaign = mobizon(recipients=30)
    clock.advance(15)

    assert tracking.poll(campaign)["links"] == 1
    assert tracking.poll(campaign)["links"] == 0  # asked a moment ago

    Batch.objects.update(links_checked_at=timezone.now() - timedelta(minutes=5))
    assert tracking.poll(campaign)["links"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_text_without_a_link_asks_for_none(mobizon, as_role):
    campaign = mobizon("No link here", recipients=20)

    _poll_until_completed(campaign)

    assert all(d.links == [] and d.links_checked_at is None for d in campaign.batches.all())
    html = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk])).text
    assert 'data-testid="short-links"' not in html


def test_a_link_that_is_not_http_is_shown_as_text(acme, as_role):
    campaign = acme.campaign
    campaign.status = CampaignStatus.COMPLETED
    campaign.save()
    link = {"code": "x", "full_link": "javascript:alert(1)", "short_link": "https://mbz.kz/x"}
    Batch.objects.create(
        campaign=campaign, key="k" * 32, links=[link | {"clicks": 3, "redirects": 3}]
    )

    html = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk])).text

    assert "javascript:alert(1)</td>" not in html and 'href="javascript' not in html
    assert 'data-clicks="3"' in html
