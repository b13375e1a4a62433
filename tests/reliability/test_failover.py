"""Failover under real workers (#19): the primary account answers 503 for 60 s mid-campaign,
then refuses Crier's credentials for good; the campaign fails over to its backup account.

Two prefork workers and beat on PostgreSQL and Redis, the sandbox behind a real web server,
as in production. The outcome is read from both accounts' charge ledgers: every phone billed
exactly once across the two (0 billed twice, 0 lost), nothing left pending or submitting, and
the campaign never paused for the primary's errors.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent
from campaigns.models import Campaign
from core.statuses import BatchStatus, CampaignStatus
from providers.sandbox.models import Charge, SandboxAccount
from tests.reliability.test_sending import HANDED_OVER, wait_until
from tests.sendkit import knobs, ledger, statuses, unsent, with_backup

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = 3_000
OUTAGE = 60  # seconds of 503 from the primary
DONE = {CampaignStatus.SENT, CampaignStatus.COMPLETED}


OPEN = (BatchStatus.CLAIMED, BatchStatus.SUBMITTING, BatchStatus.UNKNOWN, BatchStatus.HELD)


def settled(campaign: Campaign) -> bool:
    status = Campaign.objects.get(pk=campaign.pk).status
    return status in DONE | {CampaignStatus.PAUSED} and not (
        campaign.batches.filter(status__in=OPEN).exists()
    )


def billed_phones(*remotes: SandboxAccount) -> list[str]:
    charges = Charge.objects.active().filter(account__in=remotes)
    return [phone.lstrip("+") for phone in charges.values_list("phone", flat=True)]


def test_the_primary_down_then_refusing_credentials_fails_over_and_charges_each_phone_once(
    acme, processes
):
    processes.env["CRIER_SEND_BATCH_SIZE"] = "100"
    # The rule: 5 temporary errors in a row (about 15 s of backoff and beat ticks), or one
    # minute failing, or an account error.
    campaign, (_, primary_remote), (backup, backup_remote) = with_backup(
        acme.workspace,
        processes.url,
        RECIPIENTS,
        names=("Main", "Backup"),
        failover_errors=5,
        failover_minutes=1,
    )
    knobs(primary_remote, slow_seconds=0.5)  # a pace at which the outage lands mid-campaign
    processes.worker("worker1")
    processes.worker("worker2")
    processes.beat()

    wait_until(lambda: ledger(primary_remote)["charges"] >= 500, 120, "a first share sent")
    outage_ends = timezone.now() + timedelta(seconds=OUTAGE)
    knobs(primary_remote, errors_until=outage_ends)
    wait_until(lambda: timezone.now() >= outage_ends, OUTAGE + 5, "the outage")
    knobs(primary_remote, api_key="revoked-" + primary_remote.api_key)  # 401 from now on
    # Handed over (or paused, which the assertions below refuse), with no batch whose outcome
    # is still open: a straggler through the primary has met its refusal by then.
    wait_until(lambda: settled(campaign), 120, "the campaign settled, no batch open", processes)

    campaign.refresh_from_db()
    assert campaign.status in DONE, (campaign.status, campaign.status_reason, statuses(campaign))
    # Failed over during the outage, by the rule's count of errors in a row.
    assert campaign.failed_over_at < outage_ends, campaign.failover_reason
    assert campaign.failover_reason.startswith("5 temporary errors in a row at BSG")
    billed = billed_phones(primary_remote, backup_remote)
    assert len(billed) == RECIPIENTS and len(set(billed)) == RECIPIENTS  # once each, none lost
    assert ledger(primary_remote)["phones_charged_twice"] == 0
    assert ledger(backup_remote)["phones_charged_twice"] == 0
    assert unsent(campaign) == 0 and set(statuses(campaign)) <= HANDED_OVER, statuses(campaign)
    on_backup = campaign.messages.filter(account=backup, status__in=HANDED_OVER).count()
    assert on_backup == ledger(backup_remote)["charges"] > 0
    assert campaign.messages.filter(account=None).count() == ledger(primary_remote)["charges"]
    event = AuditEvent.objects.get(action=Action.CAMPAIGN_FAILED_OVER)
    assert event.details["campaign_id"] == campaign.pk
    print(
        f"failover: primary {ledger(primary_remote)['charges']}, backup {on_backup}, "
        f"failed over {(campaign.failed_over_at - outage_ends).total_seconds() + OUTAGE:.0f} s "
        f"into the outage: {campaign.failover_reason}"
    )
