"""Review r22: the price frozen at launch (Campaign.estimate, shown on the launch page and as
the campaign's estimate) is what the sandbox bills. A number opted out after it was imported is
still a pending message when the launch prices the campaign (services.readiness ->
pricing.price over every pending message), and the launch then cancels it (services.launch,
``_stop_listed``) without pricing again: the estimate counts a message that is never sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns import services
from contacts import book
from tests.sendkit import billed_as_priced, campaign_for, launch_and_send, ledger

pytestmark = pytest.mark.django_db(transaction=True)


def test_r22_the_frozen_estimate_leaves_out_numbers_the_launch_leaves_out(
    settings, acme, live_server
):
    settings.CRIER_SEND_BATCH_SIZE = 5
    account, remote = billed_as_priced(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, account, 4, status="draft")
    book.opt_out(acme.workspace, ["+77010000003"], actor=None, where="page")

    check = services.readiness(campaign)
    assert check.stop_listed == 1  # the launch page says it "will be left out"
    billed = launch_and_send(campaign, acme.user("sender"), remote)

    assert ledger(remote) == {"charges": 3, "phones_charged_twice": 0}
    frozen = campaign.estimate
    assert (frozen["messages"], Decimal(frozen["total"])) == (3, billed), (
        f"launch page: {check.estimate.total} for {check.estimate.messages} recipients; "
        f"billed {billed} for 3"
    )


def test_r22_recipients_an_import_commits_during_the_launch_are_in_its_estimate(acme, monkeypatch):
    """services.launch prices the campaign (readiness) before its transaction, then asks the
    provider for the balance (an HTTP call); an import of the draft that commits meanwhile
    (campaigns/recipients/imports.py ``_store``: the campaign still a draft) adds recipients
    the launch then sends, outside the estimate it freezes and the balance check it made."""
    from campaigns.compose import pricing
    from campaigns.models import Campaign, Message
    from core.statuses import MessageStatus
    from providers.base import AccountInfo

    campaign = campaign_for(acme.workspace, acme.account, 3, status="draft")
    campaign.sender = acme.sender.value
    campaign.save(update_fields=["sender"])

    def balance_while_an_import_commits(of):
        Message.objects.bulk_create(
            Message(campaign=campaign, phone=f"+7702{n:07d}", country="KZ") for n in range(1000)
        )
        return AccountInfo(currency="USD", balance=Decimal("1000"))

    monkeypatch.setattr(pricing, "current_funds", balance_while_an_import_commits)
    try:
        services.launch(campaign, acme.user("sender"))
    except services.CampaignRuleError as refused:  # the fix: check the price again
        assert "changed while the launch checked them" in str(refused)
        assert Campaign.objects.get(pk=campaign.pk).status == "draft"
        return
    campaign = Campaign.objects.get(pk=campaign.pk)
    to_send = campaign.messages.filter(status=MessageStatus.PENDING).count()
    assert campaign.estimate["messages"] == to_send, (
        f"launched {to_send} recipients under an estimate of {campaign.estimate['messages']} "
        f"({campaign.estimate['total']} {campaign.estimate['currency']})"
    )
