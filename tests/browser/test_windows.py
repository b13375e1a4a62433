"""A user sets a sending window, sees the plan per local hour in the preview, launches, and
watches the campaign wait for the window in its recipients' zone and send when it opens.

The clock is time-machine's, travelling (it ticks) from a moment the next day when it is
07:00 in Almaty: the live server and the engine (played by ``pump``) read it; the browser only
shows what the server says.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from campaigns.models import Message
from providers.models import ProviderAccount
from providers.sandbox.models import SandboxAccount
from tests.browser.conftest import SCREENSHOTS, launch_from_draft, shot
from tests.browser.test_compose import eager  # noqa: F401 - fixture
from tests.browser.test_sending import pump, small_batches  # noqa: F401 - fixture
from tests.sendkit import campaign_for, ledger
from workspaces.models import Workspace

WINDOW = "Mon-Sun 09:00-20:00"


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def narrow(page, name: str, *parts: str) -> None:
    """The page 390 px wide, whole and each of ``parts`` alone (readable at that size)."""
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-390")
    for n, part in enumerate(parts):
        page.locator(part).screenshot(path=SCREENSHOTS / f"{name}-390-part{n}.png")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_campaign_waits_for_its_window_and_sends_when_it_opens(
    logged_in,
    demo,
    eager,  # noqa: F811
    small_batches,  # noqa: F811
):
    page = logged_in
    workspace = Workspace.objects.get(name="Demo workspace")

    # The workspace's default window, in its settings.
    page.goto(f"{demo.url}/workspace/settings/")
    page.fill("#id_send_window", "weekdays")
    page.click("form[hx-post] button[type=submit]")
    page.wait_for_selector("text=Sending window: “weekdays” is not a rule like")
    shot(page, "window-settings-error")
    page.fill("#id_send_window", WINDOW)
    page.click("form[hx-post] button[type=submit]")
    page.wait_for_selector("text=Workspace settings saved")
    workspace.refresh_from_db()
    assert workspace.send_window == WINDOW

    account = ProviderAccount.objects.get(workspace=workspace, provider="bsg")
    campaign = campaign_for(workspace, account, 0, status="draft", name="Local hours")
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"{prefix}{n:07d}", country=country)
        for prefix, country in (("+7727", "KZ"), ("+4930", "DE"))
        for n in range(10)
    )
    remote = SandboxAccount.objects.get(provider="bsg", name=account.name)

    with time_machine.travel(tomorrow_at(2), tick=True):  # 07:00 in Almaty, 03:00 in Berlin
        # Step 4 takes a deadline the next day; step 5 shows the plan per local hour.
        page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
        page.fill("#id_spread_hours", "0")
        page.click("[data-testid=options-form] button[type=submit]")
        page.wait_for_selector("text=Spread evenly over: from 1 to 720 hours")
        page.fill("#id_spread_hours", "")
        page.fill("#id_rate_limit", "10")
        page.select_option("#id_rate_period", "3600")
        page.click("[data-testid=options-form] button[type=submit]")
        page.wait_for_selector("[data-testid=saved]")
        page.wait_for_selector("[data-testid=send-plan]:has-text('Paced at 10 an hour')")
        plan = page.wait_for_selector("[data-testid=plan-hours]")
        assert re.search(r"09:00.09:59\s+20", plan.inner_text())  # 10 an hour, in each zone
        assert page.locator("[data-testid=plan-last]").count() == 1
        page.locator("[data-testid=send-plan]").scroll_into_view_if_needed()
        page.locator("[data-testid=send-plan]").screenshot(
            path=SCREENSHOTS / "window-plan-part.png"
        )
        shot(page, "window-plan")
        narrow(page, "window-plan", "[data-testid=send-plan]", "[data-testid=options-form]")

        # Unpaced from here, so that the window alone decides what goes when.
        page.fill("#id_rate_limit", "")
        page.select_option("#id_rate_period", "")
        page.click("[data-testid=options-form] button[type=submit]")
        page.wait_for_selector("text=Not paced")
        page.click("[data-testid=launch-link]")  # the confirmation page repeats the plan
        page.wait_for_selector("[data-testid=launch] [data-testid=plan-hours]")
        shot(page, "window-launch-plan")
        narrow(page, "window-launch-plan", "[data-testid=send-plan]")
        page.go_back()
        launch_from_draft(page, campaign)
        pump(campaign)
        waiting = "Waiting for the window until 09:00 (Asia/Almaty)"
        page.wait_for_selector(f"[data-testid=window-waiting]:has-text('{waiting}')")
        assert ledger(remote)["charges"] == 0
        shot(page, "window-waiting")
        narrow(page, "window-waiting", "[data-testid=window-waiting]")

    with time_machine.travel(tomorrow_at(4, 0) + timedelta(seconds=1), tick=True):
        pump(campaign, batches=3)  # Almaty's ten go; Berlin's wait
        page.wait_for_selector("[data-testid=handed-over]:has-text('10 of 20')")
        page.wait_for_selector(
            "[data-testid=window-waiting]:has-text('the others wait until 09:00 (Europe/Berlin)')"
        )
        shot(page, "window-open")
    charged = ledger(remote)
    assert charged == {"charges": 10, "phones_charged_twice": 0}
    campaign.refresh_from_db()
    waiting = campaign.messages.filter(status="pending").values_list("phone", flat=True)
    assert {phone[:5] for phone in waiting} == {"+4930"}


@pytest.fixture(autouse=True)
def _sessions_outlast_the_travel(settings):
    """The clock travels up to 26 hours ahead, past the default idle logout (8 hours)."""
    settings.SESSION_COOKIE_AGE = 3 * 24 * 3600
