"""A launch through the API with an Idempotency-Key reads the providers' balances outside the
request's transaction.

The key's claim, the work and the answer are one transaction (``ApiView.dispatch``, review
r22), and a launch asks each account it sends through for its balance over HTTP. Inside that
transaction the request held its locks for as long as the providers took to answer: on SQLite
(the embedded default, ``BEGIN IMMEDIATE``) the whole database's write lock, so the worker, beat
and imports stalled, and the sandbox, served by the same database, could not count the balance
request (its first write) until the launch's lock timed out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from campaigns.compose import pricing
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus
from providers.base import AccountInfo
from providers.models import ProviderAccount, SenderName
from tests.campaigns.test_pricing import set_rates

pytestmark = pytest.mark.django_db(transaction=True)

RICH = AccountInfo(currency="USD", balance=Decimal("1000"))
HEADERS = {"Idempotency-Key": "launch-spring-sale"}


@pytest.fixture
def asked(monkeypatch):
    """The accounts whose balance was asked for, each with whether a transaction was open."""
    calls = []

    def funds_of(account):
        calls.append((account.name, connection.in_atomic_block))
        return RICH

    monkeypatch.setattr(pricing, "funds_of", funds_of)
    return calls


def _draft(api, acme, **more) -> Campaign:
    body = {"name": "Spring", "account": acme.account.pk, "sender": acme.sender.value}
    body |= {"text": "Spring sale today", **more}
    created = api.post("/api/v1/campaigns", body, format="json")
    assert created.status_code == 201, created.json()
    campaign = Campaign.objects.get(pk=created.json()["id"])
    Message.objects.bulk_create(
        [Message(campaign=campaign, phone=f"+7701000000{n}", country="KZ") for n in range(3)]
        + [Message(campaign=campaign, phone="+998901234567", country="UZ")]
    )
    return campaign


def _launch(api, campaign):
    launched = api.post(
        f"/api/v1/campaigns/{campaign.pk}/launch", {}, format="json", headers=HEADERS
    )
    assert launched.status_code == 200, launched.json()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SCHEDULED
    return launched


def test_r23_the_launch_asks_for_the_balance_before_its_transaction(api, acme, asked):
    set_rates(acme.account, KZ="0.035", UZ="0.050")
    campaign = _draft(api, acme)

    _launch(api, campaign)

    assert asked == [(acme.account.name, False)], "a balance was read inside the transaction"
    # The answer is kept for the key as before: the retry replays it and launches nothing.
    again = api.post(f"/api/v1/campaigns/{campaign.pk}/launch", {}, format="json", headers=HEADERS)
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"


def test_r23_each_account_of_the_cheapest_route_too(api, acme, asked):
    ProviderAccount.objects.filter(pk=acme.account.pk).update(currency="USD")
    cheap = ProviderAccount(
        workspace=acme.workspace, provider="bsg", name="Cheap KZ", currency="USD"
    )
    cheap.credentials = {"api_key": "live_cheap_key_0000"}
    cheap.save()
    SenderName.objects.create(account=cheap, value=acme.sender.value, status="approved")
    set_rates(acme.account, KZ="0.035", UZ="0.050")
    set_rates(cheap, KZ="0.030", UZ="0.060")
    campaign = _draft(api, acme, cheapest_route=True)

    _launch(api, campaign)

    assert sorted(asked) == [(acme.account.name, False), ("Cheap KZ", False)]
    estimate = Campaign.objects.get(pk=campaign.pk).estimate
    assert "Cheap KZ" in str(estimate), "the launch did not freeze the route it priced"
