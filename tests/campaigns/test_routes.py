"""Routes: a message may go through another account (and sender name) than its campaign's.

Each batch takes the messages of one route, records it, is sent through that account with
that sender name and is tracked through it; money stays per currency. Every figure is checked
against the two sandbox accounts' own ledgers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignCounters, Message
from campaigns.pages import queries
from campaigns.sending import engine as sending
from campaigns.tracking import costs
from campaigns.tracking import polling as tracking
from core.statuses import BatchStatus, CampaignStatus
from overview import figures
from providers.sandbox import clock
from providers.sandbox.models import Charge, SandboxCampaign
from tests.sendkit import (
    OTHER_SENDER,
    bsg_and_mobizon,
    campaign_for,
    ledger,
    sandbox_account,
    send_all,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_routes(settings, acme, live_server, monkeypatch):
    """A BSG campaign of 30 whose last 12 messages go through a Mobizon account (KZT) under
    another sender name."""
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_PROVIDER_TIMEOUT = 5.0
    clock.reset()
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen + clock._offset)
    (primary, primary_remote), (other, other_remote) = bsg_and_mobizon(
        acme.workspace, live_server.url
    )
    campaign = campaign_for(
        acme.workspace,
        primary,
        30,
        launched_at=timezone.now(),
        estimate={"total": "1.05", "currency": primary.currency, "messages": 30},
    )
    rerouted = campaign.messages.order_by("pk").values_list("pk", flat=True)[18:]
    Message.objects.filter(pk__in=list(rerouted)).update(account=other, sender=OTHER_SENDER)
    yield campaign, (primary, primary_remote), (other, other_remote)
    clock.reset()


def test_each_batch_takes_one_route_and_goes_through_its_account_and_sender(two_routes):
    campaign, (primary, primary_remote), (other, other_remote) = two_routes

    send_all(campaign)

    routes = sorted(campaign.batches.values_list("account_id", "sender", "size"))
    assert routes == [
        (primary.pk, campaign.sender, 8),
        (primary.pk, campaign.sender, 10),
        (other.pk, OTHER_SENDER, 2),
        (other.pk, OTHER_SENDER, 10),
    ]
    assert ledger(primary_remote) == {"charges": 18, "phones_charged_twice": 0}
    assert ledger(other_remote) == {"charges": 12, "phones_charged_twice": 0}
    rerouted = campaign.messages.filter(account=other).values_list("phone", flat=True)
    charged = Charge.objects.filter(account=other_remote).values_list("phone", flat=True)
    assert {phone.lstrip("+") for phone in charged} == {p.lstrip("+") for p in rerouted}
    sent_as = SandboxCampaign.objects.values_list("sender", flat=True)
    assert set(sent_as.filter(account=other_remote)) == {OTHER_SENDER}
    assert set(sent_as.filter(account=primary_remote)) == {campaign.sender}


def test_a_claim_never_mixes_routes(two_routes):
    campaign, _primary, (other, _) = two_routes
    first = campaign.messages.order_by("pk").first()
    Message.objects.filter(pk=first.pk).update(account=other, sender=OTHER_SENDER)

    batch, _token = sending.claim(campaign)

    assert (batch.account_id, batch.sender, batch.size) == (other.pk, OTHER_SENDER, 10)
    claimed = Message.objects.filter(batch=batch)
    assert set(claimed.values_list("account_id", flat=True)) == {other.pk}


def test_each_batch_is_polled_through_its_own_account_and_money_stays_per_currency(
    two_routes, as_role
):
    campaign, (primary, primary_remote), (_other, other_remote) = two_routes
    other = _other
    send_all(campaign)

    for _ in range(3):
        clock.advance(15)
        tracking.poll(campaign)

    bsg_billed = Charge.objects.active().filter(account=primary_remote).total()
    kzt_billed = Charge.objects.active().filter(account=other_remote).total()
    bill = costs.billing(campaign)
    assert bill.amounts == {primary.currency: bsg_billed, "KZT": kzt_billed}
    assert primary.currency != "KZT"
    # No one figure is true across two currencies: the counters hold none.
    counters = CampaignCounters.objects.get(campaign=campaign)
    assert counters.cost is None
    shown = costs.actual_cost(campaign, handed_over=30)
    assert "KZT" in shown.actual and primary.currency in shown.actual
    assert shown.verdict.startswith("not comparable")
    # The overview keeps each account's spend in its own currency, and totals per currency.
    now = timezone.now()
    totals = figures.month_totals(campaign.workspace, now)
    assert queries.money(kzt_billed, "KZT") in totals
    assert queries.money(bsg_billed, primary.currency) in totals
    spend = {
        row["account"]: row["spent"]
        for row in queries.month_spend(campaign.workspace, timezone.now())
    }
    assert spend == {
        primary.name: queries.money(bsg_billed, primary.currency),
        other.name: queries.money(kzt_billed, "KZT"),
    }
    html = as_role("viewer").get(reverse("overview")).text
    assert queries.money(kzt_billed, "KZT") in html
    # Its counters cannot say which provider delivered what: left out of the rates, and said.
    assert figures.provider_rates(campaign.workspace, now) == []
    assert "1 campaign sent through more than one account is not in these rates" in html
    # The campaign page's routes: each account with its own bill, in its own currency.
    page = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk])).text
    routes = page[page.index('data-testid="routes"') :]
    assert routes.count('data-testid="route"') == 2
    assert queries.money(kzt_billed, "KZT") in routes
    assert queries.money(bsg_billed, primary.currency) in routes


def test_an_auth_error_on_a_route_marks_that_account_not_the_campaigns(two_routes):
    campaign, (primary, _), (other, _remote) = two_routes
    Message.objects.filter(campaign=campaign, account=None).update(account=other)
    other.credentials = {**other.credentials, "api_key": "wrong"}
    other.save()

    sending.run(campaign.pk, budget=5)
    sending.release(campaign.pk)

    campaign.refresh_from_db()
    primary.refresh_from_db()
    other.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert other.last_error and not primary.last_error
    assert campaign.batches.get().status == BatchStatus.CLAIMED


def test_a_quiet_route_holds_its_batch_until_the_quiet_ends(two_routes):
    campaign, (primary, _), _other = two_routes
    quiet = timezone.now() + timedelta(seconds=60)
    type(primary).objects.filter(pk=primary.pk).update(quiet_until=quiet)

    summary = sending.run(campaign.pk, budget=5)
    sending.release(campaign.pk)

    campaign.refresh_from_db()
    assert summary.get("waiting") == 1 and campaign.next_attempt_at == quiet
    assert campaign.batches.get().status == BatchStatus.CLAIMED
    assert not campaign.batches.filter(status=BatchStatus.SUBMITTED).exists()
    assert Decimal(0) == sum(Charge.objects.active().values_list("amount", flat=True), Decimal(0))


def test_the_routes_section_counts_a_routed_countrys_unclaimed_messages_on_its_route(
    acme, live_server
):
    """Found by review (reproduced first): every message without an account of its own was
    counted under the primary, also those of countries the cheapest route sends elsewhere
    (the claim names their account only when it takes them)."""
    primary, _ = sandbox_account(acme.workspace, "bsg", live_server.url, name="Primary")
    other, _ = sandbox_account(acme.workspace, "bsg", live_server.url, name="Cheaper for DE")
    backup, _ = sandbox_account(acme.workspace, "bsg", live_server.url, name="Backup")
    campaign = campaign_for(acme.workspace, primary, 10, backup_account=backup)  # 10 KZ
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+4930{n:07d}", country="DE") for n in range(10)
    )
    campaign.estimate = {"routes": [{"country": "DE", "account": other.pk, "messages": 10}]}
    campaign.save(update_fields=["estimate"])

    by_account = {route.account.pk: route.messages for route in queries.routes(campaign)}

    assert by_account == {primary.pk: 10, other.pk: 10}
