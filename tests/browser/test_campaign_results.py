"""A completed, personalised Mobizon campaign: its page shows the text it sent, the short
links with their clicks, Mobizon's reason in the Error column, finds a number however it is
typed, and its exports download. Screenshots at desktop and phone width."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from campaigns.models import Message
from campaigns.tracking import polling as tracking
from core.statuses import CampaignStatus
from providers.models import ProviderAccount
from providers.sandbox import clock, delivery
from tests.sendkit import campaign_for, send_all
from workspaces.models import Workspace

SHOTS = Path(os.environ.get("CRIER_SHOTS", Path(__file__).parent / "screenshots"))
TEXT = "Привет, {name}! Весенняя распродажа: https://shop.example.kz/spring"


@pytest.fixture
def completed(demo, settings):
    settings.CRIER_SEND_BATCH_SIZE = 20
    clock.reset()
    workspace = Workspace.objects.get(name="Demo workspace")
    account = ProviderAccount.objects.get(workspace=workspace, provider="mobizon")
    campaign = campaign_for(workspace, account, 40, name="Весна", text=TEXT)
    Message.objects.filter(campaign=campaign).update(fields={"name": "Дана"})
    # Fixed references, so fixed outcomes (the sandbox picks each from its reference's hash):
    # with random ones all 40 were delivered about 1.5 % of the time (0.9^40), no failure to show.
    pks = campaign.messages.order_by("pk").values_list("pk", flat=True)
    for n, pk in enumerate(pks):
        reference = hashlib.sha256(f"results-{n}".encode()).hexdigest()[:32]
        Message.objects.filter(pk=pk).update(reference=reference)
    references = campaign.messages.values_list("reference", flat=True)
    assert "undelivered" in {delivery.plan(r).outcome for r in references}
    send_all(campaign)
    for _ in range(40):
        clock.advance(30)
        tracking.poll(campaign)
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.COMPLETED:
            break
    assert campaign.status == CampaignStatus.COMPLETED
    yield campaign
    clock.reset()


def test_a_completed_campaign_shows_what_it_sent_and_what_became_of_it(logged_in, completed, demo):
    page = logged_in
    page.goto(f"{demo.url}/campaigns/{completed.pk}/")

    sent = page.locator("[data-testid=sent-text]")
    assert sent.inner_text() == TEXT
    assert page.locator("[data-testid=short-links] tbody tr").count() == 1
    failed = completed.messages.exclude(status="delivered").exclude(error_reason="").first()
    assert failed is not None
    row = page.locator("[data-testid=recipients-table] tr", has_text=failed.phone)
    search_failed(page, failed.phone)
    assert failed.error_reason in row.inner_text()
    page.fill("#q", "")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=recipients-table] tbody tr').length > 1"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "campaign-results-desktop.png", full_page=True)
    page.locator("#live").screenshot(path=SHOTS / "campaign-results-live-desktop.png")
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    assert download.value.suggested_filename.endswith("-results.csv")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("[data-testid=short-links]")
    page.screenshot(path=SHOTS / "campaign-results-390.png", full_page=True)
    page.locator("#live").screenshot(path=SHOTS / "campaign-results-live-390.png")
    search_failed(page, failed.phone)
    page.locator("#recipients").screenshot(path=SHOTS / "campaign-results-search-390.png")


def search_failed(page, phone: str) -> None:
    """Types the number as people do at home: "8 (701) 000-0024" for +77010000024."""
    page.fill("#q", f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=recipients-table] tbody tr').length === 1"
    )
