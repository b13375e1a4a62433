"""A user launches a campaign on each sandbox provider and watches its counters and chart move
to completed without reloading the page; the figures match the sandbox's own.

The worker and beat are played by this test's thread, with the functions the Celery tasks call
(``sending.run``, ``tracking.poll``), while the sandbox clock is moved on so deliveries come
in; the page meanwhile polls the live server every 5 s on its own.
"""

from __future__ import annotations

import time

import pytest

from campaigns.models import CampaignCounters, CounterSnapshot
from campaigns.sending import engine as sending
from campaigns.tracking import polling as tracking
from core.statuses import CampaignStatus
from providers import registry
from providers.models import ProviderAccount
from providers.sandbox import clock
from providers.sandbox.models import SandboxAccount
from tests.browser.conftest import SCREENSHOTS, launch_from_draft, shot
from tests.browser.test_compose import eager  # noqa: F401 - fixture
from tests.campaigns.test_tracking import sandbox_figures
from tests.sendkit import campaign_for
from workspaces.models import Workspace

RECIPIENTS = 30
# The sandboxes whose own records say what became of each message (smsdrop reports a delivery
# percentage and Conpeek nothing; their figures are checked against our counters only).
REPORTING = {"bsg", "mobizon"}


@pytest.fixture
def quick_tracking(settings):
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_POLL_UNTRACKED_SECONDS = 2  # Conpeek reports nothing: wait 2 s, not a day
    clock.reset()
    yield
    clock.reset()


def send_all(campaign) -> None:
    deadline = time.monotonic() + 60
    sending.dispatch_due(lambda pk: None)
    campaign.refresh_from_db()
    while campaign.status == CampaignStatus.SENDING and time.monotonic() < deadline:
        try:
            sending.run(campaign.pk, budget=5)
        finally:
            sending.release(campaign.pk)
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT, campaign.status


def page_counts(page) -> dict[str, int]:
    rows = page.locator("[data-testid=message-counts] tr[data-status]")
    return {
        rows.nth(i).get_attribute("data-status"): int(
            rows.nth(i).locator("[data-count]").get_attribute("data-count")
        )
        for i in range(rows.count())
    }


@pytest.mark.parametrize("slug", list(registry.PROVIDERS))
def test_counters_and_chart_move_to_completed_without_a_reload(
    logged_in,
    demo,
    eager,  # noqa: F811
    quick_tracking,
    slug,
):
    page = logged_in
    workspace = Workspace.objects.get(name="Demo workspace")
    account = ProviderAccount.objects.get(workspace=workspace, provider=slug)
    remote = SandboxAccount.objects.get(provider=slug, name=account.name)
    campaign = campaign_for(workspace, account, RECIPIENTS, status="draft", name=f"Track {slug}")

    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
    launch_from_draft(page, campaign)
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Scheduled')")
    url_before = page.url

    send_all(campaign)
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Sent')", timeout=20_000)

    started = time.monotonic()
    for _ in range(60):
        tracking.poll(campaign)
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.COMPLETED:
            break
        clock.advance(20)
        time.sleep(0.1)
    assert campaign.status == CampaignStatus.COMPLETED

    # The page, never reloaded, follows within a poll or two and then stops polling.
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Completed')", timeout=20_000)
    assert time.monotonic() - started < 180
    assert page.url == url_before
    # The heading and the recipient table follow the live card.
    page.wait_for_selector("#campaign-badge:has-text('Completed')")
    shown = "[...document.querySelectorAll('[data-testid=recipients-table] .badge')]"
    shown += ".map(badge => badge.textContent.trim())"
    deadline = time.monotonic() + 15
    while {"Pending", "Queued", "Sent"} & set(page.evaluate(f"() => {shown}")):
        assert time.monotonic() < deadline, page.evaluate(f"() => {shown}")
        page.wait_for_timeout(250)
    counters = CampaignCounters.objects.get(campaign=campaign)
    ours = {status: n for status, n in counters.as_dict().items() if n}
    assert page_counts(page) == ours
    assert sum(ours.values()) == RECIPIENTS
    if slug in REPORTING:
        assert ours == dict(sandbox_figures(remote))

    # The chart is drawn from the snapshots, the last of which is the final figures.
    assert CounterSnapshot.objects.filter(campaign=campaign).count() >= 2
    last = CounterSnapshot.objects.filter(campaign=campaign).latest("taken_at")
    assert {s: n for s, n in last.counts.items() if n} == ours
    chart = page.locator(".chart-box svg")
    assert chart.count() == 1
    shot(page, f"tracking-completed-{slug}")
    chart.screenshot(path=SCREENSHOTS / f"tracking-chart-{slug}.png")
