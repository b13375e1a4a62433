"""The proof of the cheapest route: what the preview shows per route is what each sandbox
account bills once the campaign is sent, within rounding.

Two sandbox accounts in EUR with different prices: BSG bills 0.035 a part; the Mobizon
account is set to bill in EUR at its Brazilian domain's 0.15 a part, standing for a dearer
account in the same currency. Each Crier rate card says what its sandbox bills.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns import services
from campaigns.compose import pricing
from campaigns.models import Message
from campaigns.sending import engine
from providers.models import Rate, SenderName
from providers.sandbox.models import Charge
from tests.sendkit import SENDER, campaign_for, ledger, sandbox_account, send_all

pytestmark = pytest.mark.django_db(transaction=True)

TWO_PARTS = "Autumn sale: " + "everything must go! " * 10  # 213 GSM characters
CENT = Decimal("0.01")


@pytest.fixture
def routed(settings, acme, live_server):
    """A draft of 19 (12 KZ, 7 UZ) on the dear Mobizon account, with the cheapest route on; the
    cheap BSG account may send to Kazakhstan only."""
    settings.CRIER_SEND_BATCH_SIZE = 5
    settings.CRIER_PROVIDER_TIMEOUT = 5.0
    dear, dear_remote = sandbox_account(acme.workspace, "mobizon", live_server.url, name="Dear")
    dear_remote.domain, dear_remote.currency = "mobizon.com.br", "EUR"
    dear_remote.save(update_fields=["domain", "currency"])
    dear.currency = "EUR"
    dear.save(update_fields=["currency"])
    cheap, cheap_remote = sandbox_account(acme.workspace, "bsg", live_server.url, name="Cheap")
    cheap.allowed_countries = "KZ"
    cheap.save(update_fields=["allowed_countries"])
    assert cheap.currency == "EUR"
    SenderName.objects.create(account=cheap, value=SENDER, status="approved")
    for country in ("KZ", "UZ"):
        Rate.objects.create(account=dear, country=country, price=Decimal("0.15"))
        Rate.objects.create(account=cheap, country=country, price=Decimal("0.035"))
    campaign = campaign_for(
        acme.workspace, dear, 12, status="draft", text=TWO_PARTS, cheapest_route=True
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+99890{n:07d}", country="UZ") for n in range(7)
    )
    return campaign, (dear, dear_remote), (cheap, cheap_remote)


def test_the_previews_routes_are_what_each_sandbox_bills(routed, acme, as_role):
    campaign, (dear, dear_remote), (cheap, cheap_remote) = routed

    # The preview, as the user reads it before launching.
    shown = pricing.estimate(campaign)
    per_account = {None: Decimal(0), cheap.pk: Decimal(0)}
    for route in shown.routes:
        per_account[route.account] += route.cost
    assert {r.country: r.account for r in shown.routes} == {"KZ": cheap.pk, "UZ": None}
    assert per_account == {
        cheap.pk: Decimal("0.84"),
        None: Decimal("2.10"),
    }  # 24 x 0.035, 14 x 0.15
    assert shown.saving == Decimal("24") * (Decimal("0.15") - Decimal("0.035"))
    page = as_role("viewer").get(reverse("campaign_preview", args=[campaign.pk])).text
    assert "0.84" in page and "2.10" in page and "saves 2.76 EUR" in page

    services.launch(campaign, acme.user("sender"))  # asks both sandboxes for their balance
    engine.dispatch_due(lambda pk: None)  # beat starts the campaign
    campaign.refresh_from_db()
    send_all(campaign)

    billed = {
        account: Charge.objects.active().filter(account=remote).total()
        for account, remote in ((None, dear_remote), (cheap.pk, cheap_remote))
    }
    assert {k: v.quantize(CENT) for k, v in billed.items()} == {
        k: v.quantize(CENT) for k, v in per_account.items()
    }
    assert sum(billed.values()) == shown.total
    assert ledger(cheap_remote) == {"charges": 12, "phones_charged_twice": 0}
    assert ledger(dear_remote) == {"charges": 7, "phones_charged_twice": 0}
    sent = campaign.batches.values_list("account_id", flat=True).distinct()
    assert set(sent) == {dear.pk, cheap.pk}
    assert Decimal(campaign.estimate["total"]) == shown.total
