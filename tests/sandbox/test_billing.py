"""The charge ledger: exact money sums, and refunds that match what a stop cut off."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from providers.bsg.emulator import BSGEmulator
from providers.sandbox import accounts, billing, clock, delivery
from providers.sandbox.models import Charge, SandboxCampaign, SandboxMessage

pytestmark = pytest.mark.django_db
# Bound to be rejected: handed over 2 s after the start, refused 2 s later.
REJECTED_AT_4S = "m00051"


def accepted_campaign(account, references) -> SandboxCampaign:
    """A campaign of one-segment messages, accepted and charged now."""
    now = clock.now()
    campaign = SandboxCampaign.objects.create(account=account, launched_at=now, created_at=now)
    parts, price = billing.price(account, "test")
    messages = SandboxMessage.objects.bulk_create(
        SandboxMessage(
            campaign=campaign,
            reference=reference,
            phone=f"38066{i:07d}",
            segments=parts,
            price=price,
            created_at=now,
        )
        for i, reference in enumerate(references)
    )
    billing.accept(messages, now)
    return campaign


def stop(campaign, at) -> Decimal:
    campaign.stopped_at = at
    campaign.save(update_fields=["stopped_at"])
    return billing.refund_unsent(campaign, at)


def test_a_thousand_charges_sum_to_the_exact_decimal(bsg_account):
    accepted_campaign(bsg_account, [f"r{i:05d}" for i in range(1000)])

    total = Charge.objects.filter(account=bsg_account).total()

    assert isinstance(total, Decimal)
    assert total == 1000 * Decimal("0.0350")


def test_an_empty_ledger_sums_to_zero(bsg_account):
    assert Charge.objects.filter(account=bsg_account).total() == Decimal("0")


def test_stop_refunds_exactly_the_messages_it_cancelled(bsg_account):
    campaign = accepted_campaign(bsg_account, [f"m{i:05d}" for i in range(200)])
    assert delivery.plan(REJECTED_AT_4S) == delivery.Plan("rejected", 2, 4)

    refunded = stop(campaign, campaign.launched_at + timedelta(seconds=2))

    later = campaign.launched_at + timedelta(seconds=delivery.LAST_FINAL_AFTER + 1)
    stages = {m.reference: stage for m, stage in billing.campaign_stages(campaign, later)}
    cancelled = {ref for ref, stage in stages.items() if stage == "cancelled"}
    assert 0 < len(cancelled) < 200
    assert {ref for ref in stages if accounts.charges(ref) == 0} == cancelled
    assert stages[REJECTED_AT_4S] == "rejected"
    assert accounts.charges(REJECTED_AT_4S) == 1
    assert refunded == len(cancelled) * Decimal("0.0350")
    bsg_account.refresh_from_db()
    kept = Charge.objects.active().filter(account=bsg_account).total()
    assert bsg_account.balance == BSGEmulator.starting_balance - kept


def test_nothing_is_refunded_while_a_campaign_runs(bsg_account):
    campaign = accepted_campaign(bsg_account, [f"m{i:05d}" for i in range(20)])

    assert billing.refund_unsent(campaign, clock.now()) == Decimal("0")
    assert Charge.objects.active().filter(account=bsg_account).count() == 20
