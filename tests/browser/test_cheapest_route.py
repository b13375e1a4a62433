"""A user turns the cheapest route on in step 4 and reads the split on the preview."""

from __future__ import annotations

import re

import pytest

from campaigns.models import Campaign
from providers.models import ProviderAccount, Rate, SenderName
from providers.sandbox.accounts import provision
from tests.browser.conftest import SCREENSHOTS, snap
from tests.browser.test_compose import eager, new_sms_draft, paste_recipients  # noqa: F401
from workspaces.models import Workspace

SPLIT_FITS = """(() => {
  const box = document.querySelector("[data-testid=route-table]").parentElement;
  return box.scrollWidth <= box.clientWidth;
})()"""


@pytest.mark.usefixtures("eager")
def test_the_preview_shows_each_country_through_its_cheapest_account(logged_in, demo):
    workspace = Workspace.objects.get(name="Demo workspace")
    own = workspace.provider_accounts.get(provider="bsg")
    Rate.objects.create(account=own, country="UZ", price="0.050")
    wholesale = ProviderAccount(
        workspace=workspace,
        provider="bsg",
        name="BSG wholesale",
        currency=own.currency,
        api_base_url=f"{demo.url}/sandbox/bsg",
    )
    wholesale.credentials = provision("bsg", name="Wholesale")
    wholesale.save()
    SenderName.objects.create(account=wholesale, value="Crier", status="approved")
    Rate.objects.create(account=wholesale, country="KZ", price="0.030")
    Rate.objects.create(account=wholesale, country="UZ", price="0.060")

    page = logged_in
    new_sms_draft(page, demo.url, "Routed sale")
    page.fill("[data-testid=sms-text]", "Sale today: 20% off everything.")
    page.locator("#message").get_by_role("button", name="Save the message").click()
    page.wait_for_selector("#message [data-testid=saved]")
    paste_recipients(page, "phone\n+77011234567\n+77017654321\n+998901234567\n")
    assert page.locator("[data-testid=route-split]").count() == 0  # off by default

    page.check("#options #id_cheapest_route")
    page.locator("#options").get_by_role("button", name="Save").click()
    page.wait_for_selector("#options [data-testid=saved]")

    rows = page.locator("[data-testid=route-row]")
    rows.first.wait_for()
    assert [r.inner_text().split("\t") for r in rows.all()] == [
        ["KZ", "BSG wholesale", "2", "0.06"],
        ["UZ", f"{own.name} (this campaign's)", "1", "0.05"],
    ]
    saving = page.locator("[data-testid=route-saving]").inner_text()
    assert f"{own.name} alone: 0.12 EUR" in saving
    assert "The cheapest route saves 0.01 EUR" in saving
    assert page.locator("[data-testid=total]").inner_text() == "0.11 EUR"
    assert "covers its share" in page.locator("[data-testid=balance-ok]").inner_text()
    snap(page, "cheapest_route_preview")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(SPLIT_FITS)  # the split's table fits a phone without scrolling
    page.locator("[data-testid=preview]").screenshot(
        path=SCREENSHOTS / "cheapest_route_preview_phone.png"
    )

    # The launch page shows the same split; the campaign page keeps it as launched.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_test_id("launch-link").click()
    page.locator("[data-testid=route-table]").wait_for()
    assert page.locator("[data-testid=launch-price]").inner_text().startswith("0.11 EUR")
    assert page.locator("[data-testid=route-row]").count() == 2
    snap(page, "cheapest_route_launch")
    page.get_by_test_id("launch-confirm").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    frozen = page.locator("[data-testid=route-saving]")
    frozen.wait_for()
    assert "Saving against BSG (sandbox) alone (0.12 EUR): 0.01 EUR" in frozen.inner_text()
    campaign = Campaign.objects.get(name="Routed sale")
    assert campaign.routed_countries() == {"KZ": wholesale.pk}  # the claims apply it
    snap(page, "cheapest_route_campaign")
