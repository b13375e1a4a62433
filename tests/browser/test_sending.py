"""A user launches, watches, pauses, resumes, retries and stops a campaign in the browser, on
each sandbox provider.

The worker and beat are played by this test's thread (``pump``), between clicks, with the same
functions the Celery tasks call; the page meanwhile polls the live server on its own.
"""

from __future__ import annotations

import re

import pytest

from campaigns.models import Campaign
from campaigns.sending import engine as sending
from core.statuses import MessageStatus
from providers import registry
from providers.models import ProviderAccount
from providers.sandbox.models import SandboxAccount
from tests.browser.conftest import shot
from tests.browser.test_compose import eager  # noqa: F401 - fixture
from tests.sendkit import campaign_for, ledger
from workspaces.models import Workspace

RECIPIENTS = 20
BATCH = 5


@pytest.fixture
def small_batches(settings):
    settings.CRIER_SEND_BATCH_SIZE = BATCH
    settings.CRIER_SEND_MAX_ATTEMPTS = 1
    settings.CRIER_SEND_PAUSE_AFTER_ERRORS = 100
    settings.CRIER_SEND_BACKOFF_CAP = 0.01


def pump(campaign: Campaign, batches: int = 1) -> None:
    """What beat and a worker would do next: start the campaign if due, send ``batches``."""
    sending.dispatch_due(lambda pk: None)
    for _ in range(batches):
        sending.run(campaign.pk, budget=0)
        sending.release(campaign.pk)


def confirm_next_dialog(page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


@pytest.mark.parametrize("slug", list(registry.PROVIDERS))
def test_launch_watch_pause_resume_retry_and_stop(logged_in, demo, eager, small_batches, slug):  # noqa: F811
    page = logged_in
    workspace = Workspace.objects.get(name="Demo workspace")
    account = ProviderAccount.objects.get(workspace=workspace, provider=slug)
    campaign = campaign_for(workspace, account, RECIPIENTS, status="draft", name=f"Live {slug}")
    remote = SandboxAccount.objects.get(provider=slug, name=account.name)

    # Launch, through the confirmation page.
    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
    page.click("[data-testid=launch-link]")
    page.wait_for_selector("[data-testid=launch]")
    assert page.locator("[data-testid=launch-recipients]").inner_text().startswith("20")
    if page.locator("#confirm_unpriced").count():
        page.check("#confirm_unpriced")
    shot(page, f"launch-{slug}")
    page.click("[data-testid=launch-confirm]")
    page.wait_for_url(re.compile(rf".*/campaigns/{campaign.pk}/$"))
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Scheduled')")

    # Watch: one batch goes out; the card shows it without a reload.
    pump(campaign)
    page.wait_for_selector(f"[data-testid=handed-over]:has-text('{BATCH} of {RECIPIENTS}')")

    # Pause: nothing more goes out until resumed.
    confirm_next_dialog(page)
    page.click("[data-testid=pause]")
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Paused')")
    pump(campaign)
    assert ledger(remote)["charges"] == BATCH
    confirm_next_dialog(page)
    page.click("[data-testid=resume]")
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Sending')")

    # A batch the provider refuses fails; the user retries it.
    SandboxAccount.objects.filter(pk=remote.pk).update(error_burst=10)
    pump(campaign)
    SandboxAccount.objects.filter(pk=remote.pk).update(error_burst=0)
    page.wait_for_selector("[data-testid=retry]")
    shot(page, f"failed-batch-{slug}")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("[data-testid=retry]")
    page.wait_for_selector(f"text={BATCH} failed messages will be sent again")
    # The confirmation says how many go again and why they are safe to send (#13).
    assert asked and asked[0].startswith(f"Send {BATCH} failed messages again, as a new attempt?")
    assert "refused them before taking anything, so nothing was charged" in asked[0]
    pump(campaign)
    page.wait_for_selector(f"[data-testid=handed-over]:has-text('{2 * BATCH} of {RECIPIENTS}')")

    # Stop: the rest is cancelled, and the page says what the provider did.
    confirm_next_dialog(page)
    page.click("[data-testid=stop]")
    page.wait_for_selector("[data-testid=campaign-status]:has-text('Cancelled')")
    page.wait_for_selector("[data-testid=stop-report]:not(:has(.spinner-border))")
    shot(page, f"stopped-{slug}")
    campaign.refresh_from_db()
    assert campaign.messages.filter(status=MessageStatus.CANCELLED).count() == 10
    # Handed over once each; a provider that stopped them in time refunded some.
    assert ledger(remote, with_refunds=True) == {"charges": 2 * BATCH, "phones_charged_twice": 0}
    assert campaign.stop_report
