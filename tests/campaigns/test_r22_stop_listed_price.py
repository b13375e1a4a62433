"""Review r22: the price frozen at launch (Campaign.estimate, shown on the launch page and as
the campaign's estimate) is what the sandbox bills. A number opted out after it was imported is
still a pending message when the launch prices the campaign (services.readiness ->
pricing.price over every pending message), and the launch then cancels it (services.launch,
``_stop_listed``) without pricing again: the estimate counts a message that is never sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns import services
from campaigns.sending import engine
from contacts import book
from providers import registry
from providers.models import Rate
from providers.sandbox.models import Charge
from tests.sendkit import campaign_for, ledger, sandbox_account, send_all

pytestmark = pytest.mark.django_db(transaction=True)


def test_r22_the_frozen_estimate_leaves_out_numbers_the_launch_leaves_out(
    settings, acme, live_server
):
    settings.CRIER_SEND_BATCH_SIZE = 5
    account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    part = registry.emulator("bsg").segment_price(remote)
    Rate.objects.create(account=account, country="KZ", price=part)
    campaign = campaign_for(acme.workspace, account, 4, status="draft")
    book.opt_out(acme.workspace, ["+77010000003"], actor=None, where="page")

    check = services.readiness(campaign)
    assert check.stop_listed == 1  # the launch page says it "will be left out"
    services.launch(campaign, acme.user("sender"))
    engine.dispatch_due(lambda pk: None)
    campaign.refresh_from_db()
    send_all(campaign)

    assert ledger(remote) == {"charges": 3, "phones_charged_twice": 0}
    billed = Charge.objects.active().filter(account=remote).total()
    frozen = campaign.estimate
    assert (frozen["messages"], Decimal(frozen["total"])) == (3, billed), (
        f"launch page: {check.estimate.total} for {check.estimate.messages} recipients; "
        f"billed {billed} for 3"
    )
