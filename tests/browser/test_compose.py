"""A user composes an SMS template campaign up to the preview, in the browser."""

from __future__ import annotations

import re

import pytest

from campaigns.compose import pricing
from campaigns.models import Campaign, Estimate, EstimateStatus, Message
from campaigns.tasks import price_campaign
from crier.celery import app
from providers.models import Rate
from tests.browser.conftest import SCREENSHOTS, shot
from workspaces.models import Workspace


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_compose_a_template_campaign_up_to_the_preview(logged_in, demo, eager):
    page = logged_in
    new_sms_draft(page, demo.url, "Spring template")  # step 1: BSG needs an approved sender

    # Step 2: a curly apostrophe turns the text into UCS-2; one click makes it GSM again.
    page.fill("[data-testid=sms-text]", "Hi {name}, it\u2019s 20% off today. Code {code}.")
    page.wait_for_selector("[data-testid=ucs2-warning]")
    assert page.locator("[data-testid=encoding]").inner_text() == "UCS-2"
    page.click("[data-testid=replace]")
    page.wait_for_selector("[data-testid=encoding]:has-text('GSM-7')")
    assert "it's 20%" in page.locator("[data-testid=sms-text]").input_value()

    # Step 3: recipients with the placeholder columns.
    paste_recipients(page, "phone;name;code\n+77011234567;Ann;A1\n+77017654321;Boris;B2\n")

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
    on_a_phone(page)
    page.locator("[data-testid=preview]").screenshot(
        path=SCREENSHOTS / "compose_sms_phone_price.png"
    )
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
    Rate.objects.update_or_create(
        account=account, channel="sms", country="KZ", defaults={"price": "0.035"}
    )
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


TABLE_FITS = """(() => {
  const box = document.querySelector("[data-testid=price-table]").parentElement;
  return box.scrollWidth <= box.clientWidth;
})()"""


def new_sms_draft(page, base_url: str, name: str, sender: str = "Crier") -> None:
    """A new draft on the demo's first account, with its sender name saved in step 1."""
    page.goto(f"{base_url}/campaigns/new/")
    page.fill("#id_name", name)
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    page.select_option("#setup #id_sender", sender)
    page.locator("#setup").get_by_role("button", name="Save").click()
    page.wait_for_selector("#setup [data-testid=saved]")


def paste_recipients(page, text: str) -> None:
    page.fill("#id_upload_text", text)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/imports/\d+/$"))
    page.get_by_role("button", name="Import").click()
    page.locator("[data-testid=import-summary]").wait_for()
    page.get_by_role("link", name="Back to the campaign").click()


def on_a_phone(page) -> None:
    """The page again at 390 px: nothing wider than the screen, the price table included."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("[data-testid=price-table]").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(TABLE_FITS)


def step_order(page) -> list[str]:
    """The draft's step numbers in reading order: top to bottom, then left to right. Step 5
    comes with the preview, which HTMX loads after the page: it is waited for."""
    page.locator("[data-testid=preview]").wait_for()
    badges = page.locator(".badge.rounded-pill.text-bg-dark")
    boxes = [(b.bounding_box(), b.inner_text()) for b in badges.all() if b.is_visible()]
    return [text for box, text in sorted(boxes, key=lambda x: (round(x[0]["y"] / 40), x[0]["x"]))]


def test_a_bsg_voice_campaign_offers_what_bsg_takes_and_prices_the_call(logged_in, demo, eager):
    page = logged_in
    page.goto(f"{demo.url}/campaigns/new/")
    page.fill("#id_name", "Table ready call")
    page.select_option("#id_channel", "voice")
    bsg = Workspace.objects.get(name="Demo workspace").provider_accounts.get(provider="bsg")
    page.select_option("#id_account", str(bsg.pk))
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    assert step_order(page) == ["1", "2", "3", "4", "5"]

    # Step 2: BSG reads text only, in one of its documented voices, Sonya by default.
    kinds = page.locator("#message #id_voice_kind option").all_inner_texts()
    assert kinds == ["Text to speech"]
    assert page.locator("#message #id_ssml, #message #id_announcement_id").count() == 0
    assert page.locator("#message #id_voice").input_value() == "sonya"
    assert page.locator("#message #id_language").input_value() == "en"

    # Step 3 first, then the message: the preview follows the save without a reload.
    paste_recipients(page, "+77011234567\n+77017654321\n")
    page.locator("[data-testid=samples]").wait_for()
    page.fill("#message #id_text", "Your table is ready. Please come to the front desk.")
    page.locator("#message").get_by_role("button", name="Save the message").click()
    page.wait_for_selector("[data-testid=samples]:has-text('Your table is ready')")
    assert "1 call · about 4 s" in page.locator("[data-testid=samples]").inner_text()
    # Priced per call from the voice rate, the sandbox's price of a BSG call: 2 x 0.06.
    assert page.locator("[data-testid=per-call]").inner_text() == "0.0600"
    assert page.locator("[data-testid=total]").inner_text() == "0.12 EUR"
    assert page.locator("[data-testid=preview-problems]").count() == 0
    page.locator("[data-testid=preview]").scroll_into_view_if_needed()
    shot(page, "compose_voice_desktop")

    on_a_phone(page)
    assert step_order(page) == ["1", "2", "3", "4", "5"]
    shot(page, "compose_voice_phone")
    page.locator("#message").screenshot(path=SCREENSHOTS / "compose_voice_phone_message.png")
    page.locator("[data-testid=preview]").screenshot(
        path=SCREENSHOTS / "compose_voice_phone_price.png"
    )
