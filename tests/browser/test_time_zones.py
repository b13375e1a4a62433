"""The browser's date-and-time input round-trips a send time in the workspace's time zone."""

from __future__ import annotations

import re

from campaigns.models import Campaign
from providers.models import ProviderAccount
from tests.browser.conftest import shot
from workspaces.models import Workspace


def test_a_send_time_typed_in_almaty_is_kept_and_shown_as_typed(logged_in, demo):
    page = logged_in
    workspace = Workspace.objects.get(name="Demo workspace")
    assert workspace.time_zone == "Asia/Almaty"
    campaign = Campaign.objects.create(
        workspace=workspace,
        name="Timed",
        account=ProviderAccount.objects.filter(workspace=workspace, provider="bsg").first(),
        text="Hello",
    )
    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
    page.fill("#id_send_at", "2030-12-06T13:52")
    page.locator("#options").get_by_role("button", name="Save").click()
    page.wait_for_selector("#options [data-testid=saved]")
    campaign.refresh_from_db()
    assert f"{campaign.start_at:%Y-%m-%d %H:%M %Z}" == "2030-12-06 08:52 UTC"

    # Shown again as typed, in the input the browser parses (not blank, not shifted).
    page.reload()
    assert page.locator("#id_send_at").input_value() == "2030-12-06T13:52"
    assert "Asia/Almaty" in page.locator("#options").inner_text()
    shot(page, "time-send-at")

    page.goto(f"{demo.url}/campaigns/{campaign.pk}/launch/")
    assert re.search(r"2030-12-06 13:52 \(Asia/Almaty\)", page.inner_text("main"))
