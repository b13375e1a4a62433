"""A member writes a message template, a campaign chooses it in compose and edits its copy,
and the templates page counts the use, in the browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from campaigns.models import Campaign, MessageTemplate
from tests.browser.conftest import SCREENSHOTS as SHOTS
from tests.browser.conftest import snap


def test_write_a_template_choose_it_in_compose_and_edit_the_copy(logged_in, demo):
    page = logged_in
    page.on("dialog", lambda dialog: dialog.accept())

    # The templates page, from the navigation: write one. A curly apostrophe makes it UCS-2
    # and one click makes it GSM-7 again, as in compose.
    page.get_by_role("link", name="Templates").click()
    page.wait_for_url(re.compile(r".*/templates/.*"))
    page.get_by_test_id("new-template").click()
    page.fill("#id_name", "Store opening")
    curly = "Hi {name}, it\u2019s your {city} store. Code {promo}."
    page.fill("[data-testid=template-text]", curly)
    page.wait_for_selector("[data-testid=ucs2-warning]")
    assert page.get_by_test_id("encoding").inner_text() == "UCS-2"
    # The demo's contacts have a city field: {city} is one, {promo} is left to a file's column.
    placeholders = page.get_by_test_id("placeholder-check")
    placeholders.get_by_test_id("contact-field").wait_for()
    assert placeholders.get_by_test_id("placeholder").all_inner_texts() == [
        "{name} contact name",
        "{city} contact field City",
        "{promo} file column",
    ]
    snap(page, "template_form")
    page.get_by_test_id("replace").click()
    page.wait_for_selector("[data-testid=encoding]:has-text('GSM-7')")
    text = "Hi {name}, it's your {city} store. Code {promo}."
    assert page.get_by_test_id("template-text").input_value() == text
    page.get_by_role("button", name="Save the template").click()
    row = page.get_by_test_id("template-row").filter(has_text="Store opening")
    assert row.get_by_test_id("usage-count").inner_text() == "0"
    assert row.locator("[data-testid=template-preview] mark").all_inner_texts() == [
        "{name}",
        "{city}",
        "{promo}",
    ]

    # Compose: a new draft chooses it in step 2 and edits its own copy.
    page.goto(f"{demo.url}/campaigns/new/")
    page.fill("#id_name", "Templated")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    page.get_by_test_id("use-template").click()
    menu = page.get_by_test_id("template-menu")
    menu.wait_for()
    assert "Store opening" in menu.inner_text()
    snap_chooser(page)
    page.get_by_test_id("template-search").fill("your {city}")
    expect(menu.get_by_test_id("template-choice")).to_have_count(1)
    # A double click is one choice: one use.
    menu.get_by_test_id("template-choice").filter(has_text="Store opening").dblclick()
    page.get_by_test_id("template-chosen").wait_for()
    box = page.get_by_test_id("sms-text")
    assert box.input_value() == text
    box.fill(text + " Ends Sunday.")
    page.locator("#message").get_by_role("button", name="Save the message").click()
    page.wait_for_selector("#message [data-testid=saved]")

    campaign = Campaign.objects.get(name="Templated")
    assert campaign.text == text + " Ends Sunday."
    assert campaign.template.name == "Store opening"

    # Opened again, the draft names the template its text came from, and that it was edited.
    page.reload()
    origin = page.get_by_test_id("from-template")
    assert "From the template “Store opening”" in origin.inner_text()
    assert "edited since" in origin.inner_text()
    snap(page, "compose_from_template")
    page.locator("#message").screenshot(path=SHOTS / "compose_from_template_step.png")

    # Save the edited text as a template of its own; the same name again is refused.
    page.locator("#save-template summary").click()
    page.fill("#id_template_name", "Store opening, Sunday")
    page.locator("#save-template").get_by_role("button", name="Save").click()
    page.get_by_test_id("template-saved").wait_for()
    snap(page, "compose_save_as_template")
    page.fill("#id_template_name", "store OPENING")
    page.locator("#save-template").get_by_role("button", name="Save").click()
    page.wait_for_selector("#save-template .invalid-feedback")
    assert "already; choose another name" in page.locator("#save-template").inner_text()

    # The templates page counts the one use; the template kept its own text.
    page.get_by_role("link", name="Templates").click()
    row = page.get_by_test_id("template-row").filter(has_text="Store opening").first
    assert row.get_by_test_id("usage-count").inner_text() == "1"
    assert MessageTemplate.objects.get(name="Store opening").text == text
    sunday = MessageTemplate.objects.get(name="Store opening, Sunday")
    assert sunday.text == text + " Ends Sunday."
    snap(page, "template_list")


def snap_chooser(page) -> None:
    """The open chooser at 1280 and at 390 px (re-opened after the page reflows)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#message").screenshot(path=SHOTS / "compose_chooser_1280.png")
    page.screenshot(path=SHOTS / "compose_chooser_page_1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.keyboard.press("Escape")
    page.locator("#message").scroll_into_view_if_needed()
    page.evaluate("document.querySelector('#message').scrollIntoView()")
    page.get_by_test_id("use-template").click()
    page.get_by_test_id("template-menu").wait_for()
    page.screenshot(path=SHOTS / "compose_chooser_390.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    if not page.get_by_test_id("template-menu").is_visible():
        page.get_by_test_id("use-template").click()


def test_a_voice_template_is_offered_to_a_voice_campaign_as_its_spoken_text(logged_in, demo):
    page = logged_in
    page.goto(f"{demo.url}/templates/new/")
    page.fill("#id_name", "Parcel call")
    page.select_option("#id_channel", "voice")
    page.fill("[data-testid=template-text]", "Hello {name}, your parcel is ready.")
    # A spoken text has no SMS parts: the checks say so instead of counting.
    page.wait_for_selector("[data-testid=checks]:has-text('text to speech')")
    assert page.get_by_test_id("parts").count() == 0
    page.get_by_role("button", name="Save the template").click()
    page.wait_for_url(re.compile(r".*/templates/\?channel=voice$"))
    page.get_by_test_id("template-row").filter(has_text="Parcel call").wait_for()
    snap(page, "template_list_voice")

    page.goto(f"{demo.url}/campaigns/new/")
    page.fill("#id_name", "Parcel calls")
    page.select_option("#id_channel", "voice")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    page.get_by_test_id("use-template").click()
    menu = page.get_by_test_id("template-menu")
    expect(menu.get_by_test_id("template-choice")).to_have_count(1)  # no SMS template
    menu.get_by_test_id("template-choice").click()
    page.get_by_test_id("template-chosen").wait_for()
    assert page.locator("#message #id_text").input_value() == "Hello {name}, your parcel is ready."
    snap(page, "compose_voice_chosen")
    campaign = Campaign.objects.get(name="Parcel calls")
    assert (campaign.text, campaign.voice_kind) == ("Hello {name}, your parcel is ready.", "tts")
