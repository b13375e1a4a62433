"""An account that holds a batch unlaunched for lack of credits (smsdrop: the campaign is
created but not started) has run out of balance: with a backup, that is the failover's
trigger as much as an out-of-balance refusal (found by review: the batch stayed held and the
campaign never failed over). The held batch's messages move to the backup under new
references and are never launched at the primary; where the provider cannot withdraw the held
campaign, the campaign page says which one to delete in the provider's panel."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Batch, Campaign
from campaigns.sending import engine as sending
from core.statuses import BatchStatus, CampaignStatus
from tests.sendkit import campaign_for, ledger, sandbox_account, send_all

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smsdrop_without_credits(settings, acme, live_server):
    """An smsdrop campaign of 20 (batches of 10) without credits, a BSG backup."""
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_SEND_BACKOFF_CAP = 0.1
    primary, primary_remote = sandbox_account(acme.workspace, "smsdrop", live_server.url)
    primary_remote.balance = Decimal("0")
    primary_remote.save(update_fields=["balance"])
    backup, backup_remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, primary, 20, backup_account=backup, failover_errors=3)
    return campaign, primary_remote, backup_remote


def test_a_batch_held_for_lack_of_credits_fails_over_to_the_backup(smsdrop_without_credits):
    campaign, primary, backup = smsdrop_without_credits
    references = set(campaign.messages.values_list("reference", flat=True))

    send_all(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and campaign.failed_over_at
    assert "credits" in campaign.failover_reason
    assert ledger(primary)["charges"] == 0
    assert ledger(backup) == {"charges": 20, "phones_charged_twice": 0}
    assert set(campaign.messages.values_list("account_id", flat=True)) == {
        campaign.backup_account_id
    }
    assert not references & set(campaign.messages.values_list("reference", flat=True))
    held = campaign.batches.get(account=campaign.account)
    assert held.status == BatchStatus.CANCELLED and held.size == 0
    assert held.provider_campaign_id


def test_credits_added_later_never_launch_the_moved_batch(smsdrop_without_credits):
    campaign, primary, backup = smsdrop_without_credits
    send_all(campaign)
    primary.balance = Decimal("100000")
    primary.save(update_fields=["balance"])
    Batch.objects.filter(campaign=campaign).update(next_attempt_at=None)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)

    sending.run(campaign.pk, budget=1)
    sending.release(campaign.pk)

    assert ledger(primary)["charges"] == 0
    assert ledger(backup) == {"charges": 20, "phones_charged_twice": 0}


def test_without_the_account_error_rule_the_batch_stays_held(smsdrop_without_credits):
    campaign, _primary, backup = smsdrop_without_credits
    Campaign.objects.filter(pk=campaign.pk).update(failover_on_account_error=False)

    sending.run(campaign.pk, budget=1)
    sending.release(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.failed_over_at is None
    assert campaign.batches.get().status == BatchStatus.HELD
    assert ledger(backup)["charges"] == 0


def test_the_page_names_the_held_campaign_to_delete_at_the_provider(
    smsdrop_without_credits, as_role
):
    campaign, _primary, _backup = smsdrop_without_credits
    send_all(campaign)
    held = campaign.batches.get(account=campaign.account)

    page = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk]))

    note = page.content.decode().split('data-testid="unlaunched"', 1)[1].split("</div>")[0]
    assert held.provider_campaign_id in note
    assert "delete it in smsdrop's panel" in " ".join(note.split())


def test_a_held_batch_stopped_is_named_for_deletion_too(smsdrop_without_credits, acme, as_role):
    from campaigns import services

    campaign, _primary, _backup = smsdrop_without_credits
    Campaign.objects.filter(pk=campaign.pk).update(backup_account=None)
    campaign.refresh_from_db()
    sending.run(campaign.pk, budget=1)
    sending.release(campaign.pk)
    held = campaign.batches.get()
    assert held.status == BatchStatus.HELD
    services.stop(campaign, acme.user("sender"))

    page = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk]))

    note = page.content.decode().split('data-testid="unlaunched"', 1)[1].split("</div>")[0]
    assert held.provider_campaign_id in note
