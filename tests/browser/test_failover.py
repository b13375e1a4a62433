"""Failover in the browser: compose step 4 names a backup account, the preview states the rule,
and after the primary fails mid-campaign the campaign page shows which messages went which way
and what each route cost, each in its own currency. Screenshots at desktop and phone width."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.sending import engine as sending
from campaigns.tracking import polling as tracking
from providers.models import ProviderAccount
from providers.sandbox import clock
from providers.sandbox.models import SandboxAccount
from tests.sendkit import campaign_for, send_all
from workspaces.models import Workspace

SHOTS = Path(os.environ.get("CRIER_SHOTS", Path(__file__).parent / "screenshots"))


def demo_accounts():
    workspace = Workspace.objects.get(name="Demo workspace")
    bsg = ProviderAccount.objects.get(workspace=workspace, provider="bsg")
    mobizon = ProviderAccount.objects.get(workspace=workspace, provider="mobizon")
    return workspace, bsg, mobizon


@pytest.fixture
def failed_over(demo, settings):
    """A BSG campaign of 40 (batches of 10) with Mobizon as its backup: BSG takes one batch,
    then answers 503 until the campaign fails over after 2 errors in a row."""
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_SEND_BACKOFF_CAP = 0.1
    settings.CRIER_SEND_MAX_ATTEMPTS = 100
    clock.reset()
    workspace, bsg, mobizon = demo_accounts()
    campaign = campaign_for(
        workspace,
        bsg,
        40,
        name="Winter offer",
        launched_at=timezone.now(),
        estimate={"total": "1.40", "currency": bsg.currency, "messages": 40, "segments": 40},
        backup_account=mobizon,
        backup_sender="CrierDemo",
        failover_errors=2,
        failover_minutes=5,
    )
    sending.run(campaign.pk, budget=0)
    sending.release(campaign.pk)
    remote = SandboxAccount.objects.get(provider="bsg", name=bsg.name)
    SandboxAccount.objects.filter(pk=remote.pk).update(
        errors_until=timezone.now() + timedelta(hours=1)
    )
    send_all(campaign)
    SandboxAccount.objects.filter(pk=remote.pk).update(errors_until=None)
    for _ in range(20):
        clock.advance(30)
        tracking.poll(campaign)
        campaign.refresh_from_db()
        if not campaign.batches.filter(status="submitted", cost=None).exists():
            break
    assert campaign.failed_over_at is not None
    yield campaign
    clock.reset()


def test_the_campaign_page_shows_each_route_and_its_cost_after_a_failover(
    logged_in, failed_over, demo
):
    page = logged_in
    page.goto(f"{demo.url}/campaigns/{failed_over.pk}/")

    routes = page.locator("[data-testid=routes]")
    notice = routes.locator("[data-testid=failover-rule]").inner_text()
    assert "Failed over to Demo Mobizon" in notice or "Failed over to" in notice
    assert "2 temporary errors in a row at BSG" in notice
    rows = routes.locator("[data-testid=route]")
    assert rows.count() == 2
    primary, backup = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "primary" in primary and "10" in primary
    assert "backup" in backup and "30" in backup and "CrierDemo" in backup
    billed = [rows.nth(i).locator("[data-testid=route-billed]").inner_text() for i in range(2)]
    assert billed[0].endswith(failed_over.account.currency) and billed[1].endswith("KZT")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "failover-campaign-1280.png", full_page=True)
    routes.screenshot(path=SHOTS / "failover-routes-1280.png")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    routes = page.locator("[data-testid=routes]")
    routes.wait_for()
    page.screenshot(path=SHOTS / "failover-campaign-390.png", full_page=True)
    routes.screenshot(path=SHOTS / "failover-routes-390.png")


def test_the_overview_keeps_each_currency_and_says_which_rates_it_left_out(
    logged_in, failed_over, demo
):
    page = logged_in
    page.goto(f"{demo.url}/")

    note = page.locator("[data-testid=rates-left-out]").inner_text()
    assert note.startswith("1 campaign sent through more than one account is not in these rates")
    totals = page.locator("[data-testid=spend-total]").inner_text()
    assert "KZT" in totals and failed_over.account.currency in totals
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "failover-overview-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=SHOTS / "failover-overview-390.png", full_page=True)


def test_a_backup_is_chosen_in_the_options_and_the_preview_states_the_rule(logged_in, demo):
    page = logged_in
    workspace, bsg, mobizon = demo_accounts()
    draft = Campaign.objects.create(
        workspace=workspace, name="Spring draft", account=bsg, sender="Crier", text="Hello"
    )
    page.goto(f"{demo.url}/campaigns/{draft.pk}/")

    options = page.locator("[data-testid=options-form]")
    options.locator("#id_backup_account").select_option(str(mobizon.pk))
    options.locator("#id_backup_sender").fill("Nope")
    options.locator("button[type=submit]").click()
    error = page.locator(
        "[data-testid=options-form] .invalid-feedback, [data-testid=options-form] .text-danger"
    )
    error.first.wait_for()
    assert "“Nope” is not an approved sender name of" in page.locator("#options").inner_text()
    page.locator("#id_backup_sender").fill("CrierDemo")
    page.locator("#id_failover_errors").fill("3")
    page.locator("[data-testid=options-form] button[type=submit]").click()
    page.locator("[data-testid=saved]").wait_for()
    page.locator("[data-testid=preview] button", has_text="Refresh").click()
    rule = page.locator("[data-testid=failover-rule]")
    rule.wait_for()
    assert "after 3 temporary errors in a row" in rule.inner_text()
    assert mobizon.name in rule.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "failover-compose-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("[data-testid=failover-options]").screenshot(
        path=SHOTS / "failover-options-390.png"
    )
    page.locator("[data-testid=failover-rule]").wait_for()
    page.locator("[data-testid=preview]").screenshot(path=SHOTS / "failover-preview-390.png")


def test_the_launch_page_states_the_backup_and_the_rule(logged_in, demo):
    page = logged_in
    workspace, bsg, mobizon = demo_accounts()
    draft = Campaign.objects.create(
        workspace=workspace,
        name="Launch with a backup",
        account=bsg,
        sender="Crier",
        text="Hello",
        backup_account=mobizon,
        backup_sender="CrierDemo",
    )
    page.goto(f"{demo.url}/campaigns/{draft.pk}/launch/")

    rule = page.locator("[data-testid=launch] [data-testid=failover-rule]").inner_text()
    assert "after 5 temporary errors in a row, or after 10 minutes of failing" in rule
    assert f"move to {mobizon.name}" in rule
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "failover-launch-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=SHOTS / "failover-launch-390.png", full_page=True)
