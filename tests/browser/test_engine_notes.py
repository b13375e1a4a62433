"""The campaign page's notes on what the engine could not do itself: an smsdrop campaign
created but never launched (held for lack of credits, then failed over to the backup), which
smsdrop's API cannot delete; and a retry the passed deadline no longer allows. Screenshots
at desktop and phone width."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from core.statuses import CampaignStatus, MessageStatus
from providers.models import ProviderAccount
from providers.sandbox.models import SandboxAccount
from tests.browser.conftest import snap
from tests.sendkit import campaign_for, send_all
from workspaces.models import Workspace


@pytest.fixture
def accounts(demo, settings):
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_SEND_BACKOFF_CAP = 0.1
    workspace = Workspace.objects.get(name="Demo workspace")
    smsdrop = ProviderAccount.objects.get(workspace=workspace, provider="smsdrop")
    bsg = ProviderAccount.objects.get(workspace=workspace, provider="bsg")
    return workspace, smsdrop, bsg


def test_an_unlaunched_smsdrop_campaign_is_named_for_deletion(logged_in, demo, accounts):
    workspace, smsdrop, bsg = accounts
    SandboxAccount.objects.filter(provider="smsdrop", name=smsdrop.name).update(
        balance=Decimal("0")
    )
    campaign = campaign_for(
        workspace, smsdrop, 20, name="Credits ran out", backup_account=bsg, failover_errors=3
    )
    send_all(campaign)
    held = campaign.batches.get(account=smsdrop)

    page = logged_in
    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
    note = page.locator("[data-testid=unlaunched]")
    assert held.provider_campaign_id in note.inner_text()
    assert "delete it in smsdrop's panel" in note.inner_text()
    snap(page, "engine_unlaunched_at_smsdrop")


def test_retry_after_the_deadline_says_to_clone(logged_in, demo, accounts):
    workspace, _smsdrop, bsg = accounts
    campaign = campaign_for(
        workspace,
        bsg,
        12,
        name="Flash sale",
        status=CampaignStatus.SENT,
        launched_at=timezone.now() - timedelta(hours=3),
        deadline=timezone.now() - timedelta(hours=1),
    )
    campaign.messages.update(status=MessageStatus.FAILED, error_code="x", error_reason="Refused.")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENT)

    page = logged_in
    page.goto(f"{demo.url}/campaigns/{campaign.pk}/")
    assert page.locator("[data-testid=retry]").count() == 0
    assert (
        "clone the campaign to send again"
        in page.locator("[data-testid=retry-too-late]").inner_text()
    )
    snap(page, "engine_retry_after_deadline")
