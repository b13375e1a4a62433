"""After a failover, costs.as_sent prices every message on the backup as
moved from the primary, including the ones the cheapest route sent through the backup from the
start (the backup may be a route: routes.others_of excludes only the campaign's own account).
The estimate already priced those at the backup's rate, so the figure shown as "estimated for
the accounts that sent" was off by (primary - backup) rate for each of them (found by review).
And the figure, cached while the campaign moves no more, is worked out again once a retry has
moved more messages to the backup."""

from __future__ import annotations

from decimal import Decimal as D

from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.tracking import costs
from core.statuses import CampaignStatus, MessageStatus
from providers.models import ProviderAccount
from tests.campaigns.test_pricing import set_rates


def _failed_over(acme):
    ProviderAccount.objects.filter(pk=acme.account.pk).update(currency="EUR")
    backup = ProviderAccount(
        workspace=acme.workspace, provider="bsg", name="Backup", currency="EUR"
    )
    backup.credentials = {"api_key": "live_backup_key_0000"}
    backup.save()
    primary = ProviderAccount.objects.get(pk=acme.account.pk)
    set_rates(primary, KZ="0.100", UZ="0.050")
    set_rates(backup, KZ="0.030", UZ="0.060")  # the cheapest route sends KZ through the backup
    # Launched: 10 KZ through the backup (route) at 0.030, 10 UZ through the primary at 0.050.
    estimate = {
        "total": "0.80", "currency": "EUR", "messages": 20, "segments": 20,
        "routes": [{"country": "KZ", "account": backup.pk, "messages": 10}],
    }  # fmt: skip
    Campaign.objects.filter(pk=acme.campaign.pk).update(
        backup_account=backup, cheapest_route=True, estimate=estimate,
        failed_over_at=timezone.now(), status=CampaignStatus.COMPLETED,
    )  # fmt: skip
    campaign = Campaign.objects.get(pk=acme.campaign.pk)
    Message.objects.bulk_create(
        [Message(campaign=campaign, phone=f"+770100000{n:02d}", country="KZ", account=backup,
                 status=MessageStatus.DELIVERED) for n in range(10)]
        # The primary failed: 4 UZ messages moved to the backup, 6 went through the primary.
        + [Message(campaign=campaign, phone=f"+9989012345{n:02d}", country="UZ", account=backup,
                   status=MessageStatus.DELIVERED) for n in range(4)]
        + [Message(campaign=campaign, phone=f"+9989012346{n:02d}", country="UZ",
                   status=MessageStatus.DELIVERED) for n in range(6)]
    )  # fmt: skip
    return campaign, backup


def test_messages_the_route_sent_through_the_backup_are_not_repriced_as_moved(acme):
    campaign, _ = _failed_over(acme)
    planned, missing = costs.as_sent(campaign)
    assert missing == ""
    # 10 KZ x 0.030 (route, unchanged) + 6 UZ x 0.050 + 4 UZ x 0.060 (moved) = 0.84 EUR
    assert planned == {"EUR": D("0.84")}, planned


def test_a_retry_that_moves_more_messages_is_priced_again(acme):
    campaign, backup = _failed_over(acme)
    assert costs.as_sent(campaign)[0] == {"EUR": D("0.84")}
    # A retry sends the 6 primary UZ messages again through the backup; completed again.
    Message.objects.filter(campaign=campaign, country="UZ", account=None).update(account=backup)
    Campaign.objects.filter(pk=campaign.pk).update(submitted_at=timezone.now())
    campaign = Campaign.objects.get(pk=campaign.pk)
    # 10 KZ x 0.030 + 10 UZ x 0.060 = 0.90 EUR
    assert costs.as_sent(campaign)[0] == {"EUR": D("0.90")}
