"""A user composes an SMS template campaign up to the preview, in the browser."""

from __future__ import annotations

import re

import pytest

from campaigns import pricing
from campaigns.models import Campaign, Estimate, EstimateStatus, Message
from campaigns.tasks import price_campaign
from dashboard.celery import app
from dashboard.models import Workspace
from providers.models import Rate
from tests.browser.conftest import shot


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_compose_a_template_campaign_up_to_the_preview(logged_in, demo, eager):
    page = logged_in
    page.goto(f"{demo.url}/campaigns/new/")
    page.fill("#id_name", "Spring template")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))

    # Step 1: BSG needs an approved sender name.
    page.select_option("#setup #id_sender", "Crier")
    page.locator("#setup").get_by_role("button", name="Save").click()
    page.wait_for_selector("#setup [data-testid=saved]")

    # Step 2: a curly apostrophe turns the text into UCS-2; one click makes it GSM again.
    page.fill("[data-testid=sms-text]", "Hi {name}, it\u2019s 20% off today. Code {code}.")
    page.wait_for_selector("[data-testid=ucs2-warning]")
    assert page.locator("[data-testid=encoding]").inner_text() == "UCS-2"
    page.click("[data-testid=replace]")
    page.wait_for_selector("[data-testid=encoding]:has-text('GSM-7')")
    assert "it's 20%" in page.locator("[data-testid=sms-text]").input_value()

    # Step 3: recipients with the placeholder columns.
    page.fill("#id_upload_text", "phone;name;code\n+77011234567;Ann;A1\n+77017654321;Boris;B2\n")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/imports/\d+/$"))
    page.get_by_role("button", name="Import").click()
    page.locator("[data-testid=import-summary]").wait_for()
    page.get_by_role("link", name="Back to the campaign").click()

    # Step 5: the preview renders each recipient's own text and prices it.
    samples = page.locator("[data-testid=samples]")
    samples.wait_for()
    assert "Hi Ann, it's 20% off today. Code A1." in samples.inner_text()
    assert "Hi Boris" in samples.inner_text()
    # The demo's BSG account has a Kazakh rate at the sandbox's price: 2 messages, 1 part each.
    assert page.locator("[data-testid=unpriced]").count() == 0
    assert page.locator("[data-testid=total]").inner_text() == "0.07 EUR"
    page.locator("[data-testid=preview]").scroll_into_view_if_needed()
    shot(page, "compose_preview")
    campaign = Campaign.objects.get(name="Spring template")
    assert (campaign.sender, campaign.messages.count()) == ("Crier", 2)


def test_a_big_campaign_is_priced_in_the_background_with_progress(
    logged_in, demo, settings, monkeypatch
):
    settings.CRIER_PREVIEW_SYNC_LIMIT = 3
    queued = []  # no worker here: the test plays it
    monkeypatch.setattr(price_campaign, "delay_on_commit", lambda *args: queued.append(args))
    workspace = Workspace.objects.get(name="Demo workspace")
    account = workspace.provider_accounts.get(provider="bsg")
    Rate.objects.update_or_create(account=account, country="KZ", defaults={"price": "0.035"})
    campaign = Campaign.objects.create(
        workspace=workspace, name="Big", account=account, sender="Crier", text="Hi {name}!"
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701000{n:04d}", country="KZ", fields={"name": "Ann"})
        for n in range(4)
    )
    page = logged_in
    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")

    progress = page.locator("[data-testid=estimate-progress]")
    progress.wait_for()
    assert "Waiting for a worker to price the 4 recipients" in progress.inner_text()
    (estimate_id, token), *_ = queued
    Estimate.objects.filter(pk=estimate_id).update(status=EstimateStatus.RUNNING, rows_done=2)
    page.wait_for_selector("[data-testid=estimate-progress]:has-text('2 done (50 %)')")
    page.locator("[data-testid=preview]").scroll_into_view_if_needed()
    shot(page, "preview_in_the_background")

    Estimate.objects.filter(pk=estimate_id).update(status=EstimateStatus.QUEUED)
    pricing.run(estimate_id, token)  # what the worker does
    page.locator("[data-testid=total]").wait_for()  # the next poll brings the price
    assert page.locator("[data-testid=total]").inner_text() == f"0.14 {account.currency}"
    assert page.locator("[data-testid=estimate-progress]").count() == 0
    shot(page, "preview_priced_in_the_background")
