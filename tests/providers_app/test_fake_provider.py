"""A fifth provider is its own package plus one registry line: Fakesms
(tests/providers_app/fakeprovider), registered here and in no other file, is offered by the
account form, served by the sandbox, and carries a campaign through compose, launch and
tracking like the four real ones. Expected figures come from the sandbox, never the adapter.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignCounters
from campaigns.tracking import polling as tracking
from core.statuses import CampaignStatus
from providers import registry
from providers.sandbox import billing, clock
from providers.sandbox.models import SandboxMessage
from tests.campaigns.test_sending import drain
from tests.sendkit import campaign_for, ledger, sandbox_account, statuses
from workspaces.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def fake(monkeypatch):
    """Fakesms registered for one test, as its registry line would register it for good."""
    monkeypatch.setitem(registry.PROVIDERS, "fake", "tests.providers_app.fakeprovider")


@pytest.fixture
def frozen_clock(monkeypatch):
    """The sandbox's time moves only when the test advances it."""
    clock.reset()
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen + clock._offset)
    yield
    clock.reset()


def test_the_account_form_offers_a_registered_provider(fake, as_role):
    page = as_role(Role.ADMIN).get(reverse("account_add")).text

    assert '<option value="fake">Fakesms</option>' in page


def test_an_unregistered_provider_is_not_served_by_the_sandbox(client):
    response = client.get("/sandbox/fake/account")

    assert response.status_code == 404
    assert response.json() == {"message": "No such sandbox provider."}


def test_a_campaign_goes_through_compose_launch_and_tracking(
    fake, frozen_clock, acme, as_role, live_server, settings
):
    settings.CRIER_PROVIDER_TIMEOUT = 5.0
    account, remote = sandbox_account(acme.workspace, "fake", live_server.url)
    admin = as_role(Role.ADMIN)
    admin.post(reverse("account_import_senders", args=[account.pk]))
    assert set(account.senders.values_list("value", "status")) >= {("Crier", "approved")}

    # Compose: the draft's setup and message steps, as the page posts them.
    campaign = campaign_for(acme.workspace, account, 120, status=CampaignStatus.DRAFT)
    setup = {"name": "Fifth", "channel": "sms", "account": account.pk, "sender": "Crier"}
    for step, data in (("campaign_setup", setup), ("campaign_message", {"text": "Hi there"})):
        response = admin.post(reverse(step, args=[campaign.pk]), data, headers=HTMX)
        assert 'data-testid="saved"' in response.text, response.text

    # Launch: the confirmation page's button, then the engine until every batch is out.
    admin.post(reverse("campaign_launch", args=[campaign.pk]), {"confirm_unpriced": "on"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED, campaign.status_reason
    drain(campaign)
    assert campaign.status == CampaignStatus.SENT, statuses(campaign)
    assert ledger(remote) == {"charges": 120, "phones_charged_twice": 0}
    assert campaign.batches.count() == 3  # the adapter's batches of at most 50

    # Tracking: polls follow the sandbox until every message is final.
    _poll_until_completed(campaign)
    figures = CampaignCounters.objects.get(campaign=campaign).as_dict()
    assert {s: n for s, n in figures.items() if n} == dict(_sandbox_figures(remote))
    assert campaign.messages.filter(status="delivered", raw_status="delivered").exists()
    assert not campaign.messages.filter(provider_message_id="").exists()
    failed = campaign.messages.filter(status="undelivered").values_list("error_reason", flat=True)
    assert set(failed) <= {"The handset never answered"}


def _poll_until_completed(campaign, step: float = 15, polls: int = 20) -> None:
    for _ in range(polls):
        clock.advance(step)
        tracking.poll(campaign)
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.COMPLETED:
            return
    raise AssertionError(f"not completed after {polls} polls: {statuses(campaign)}")


def _sandbox_figures(remote) -> Counter:
    now = clock.now()
    messages = SandboxMessage.objects.filter(campaign__account=remote).select_related("campaign")
    return Counter(billing.message_stage(m, m.campaign, now) for m in messages)
