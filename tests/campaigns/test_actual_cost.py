"""The campaign page's actual cost is the provider's money: the sum of what it billed for the
campaign's batches, said to be partial while some batch is not reported, "not reported" when
the provider gives no price, never compared across currencies, and its difference from the
estimate flagged in words once it is more than rounding (half a cent a batch)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal
from html import unescape
from uuid import uuid4

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Batch, Campaign, CampaignCounters, Message
from campaigns.pages import queries as pages
from campaigns.sending import engine as sending
from campaigns.tracking import costs
from campaigns.tracking import polling as tracking
from core.statuses import BatchStatus, CampaignStatus
from providers.models import ProviderAccount
from providers.sandbox import clock
from providers.sandbox.models import Charge
from tests.sendkit import campaign_for, sandbox_account

HTMX = {"HX-Request": "true"}


def sent_campaign(acme, *, estimate="700.00", currency="EUR", messages=200, account=None):
    """Acme's campaign as launched: ``messages`` recipients all delivered, the estimate frozen
    at ``estimate`` and no batch yet."""
    campaign = acme.campaign
    campaign.account = account or acme.account
    campaign.status = CampaignStatus.COMPLETED
    campaign.launched_at = timezone.now() - timedelta(hours=1)
    campaign.estimate = {
        "total": estimate,
        "currency": currency,
        "messages": messages,
        "segments": messages,
        "unpriced_messages": 0,
    }
    campaign.save()
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701{n:07d}", country="KZ", status="delivered")
        for n in range(messages)
    )
    return campaign


def batch(campaign, cost=None, currency="EUR", *, polled=True, status=BatchStatus.SUBMITTED):
    """One batch of ``campaign`` with the cost the provider reported for it (None: none)."""
    return Batch.objects.create(
        campaign=campaign,
        key=uuid4().hex,
        status=status,
        provider_campaign_id=uuid4().hex[:8],
        cost=None if cost is None else Decimal(cost),
        currency=currency if cost is not None else "",
        polled_at=timezone.now() if polled else None,
    )


def cost_part(client, campaign) -> str:
    html = client.get(reverse("campaign_progress", args=[campaign.pk]), headers=HTMX).text
    start = html.index('data-testid="cost-estimate"')
    return html[start : html.index('data-testid="cost-source"', start) + 400]


def field(html: str, testid: str) -> str:
    """The text of the element marked ``testid``, tags stripped."""
    match = re.search(rf'data-testid="{testid}">(.*?)</(dd|div|p)>', html, re.S)
    text = re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""
    return re.sub(r"\s+", " ", unescape(text)).strip()


# --- Billed more than estimated --------------------------------------------------------------


@pytest.mark.django_db
def test_a_provider_billing_more_than_estimated_is_flagged_with_the_true_difference(as_role, acme):
    # The hostile tester's campaign: 20,000 recipients estimated at 700 EUR, charged 110,000
    # times at 0.035 EUR in 11 batches (200 recipients here, the money is the same).
    campaign = sent_campaign(acme)
    for _ in range(11):
        batch(campaign, "350.0000")

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-estimate") == "700.00 EUR"
    assert field(html, "cost-actual") == "3,850.00 EUR"
    assert field(html, "cost-difference").startswith("+3,150.00 EUR (+450.0 %)")
    flag = field(html, "cost-flag")
    assert "3,150.00 EUR more than estimated" in flag and "more than rounding" in flag
    assert field(html, "cost-source") == (
        "Billed by BSG, from its campaign statistics: 11 of 11 batches reported."
    )


@pytest.mark.django_db
def test_billed_less_than_estimated_is_flagged_too_and_says_what_went_out(as_role, acme):
    campaign = sent_campaign(acme, estimate="4.20", messages=120)
    Message.objects.filter(pk__in=campaign.messages.values("pk")[:10]).update(status="failed")
    batch(campaign, "3.8500")

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-difference").startswith("-0.35 EUR (-8.3 %)")
    assert "0.35 EUR less than estimated" in field(html, "cost-flag")
    assert "The estimate priced 120 messages; 110 were handed to the provider." in field(
        html, "cost-source"
    )


# --- Rounding ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rounding_level_difference_is_shown_but_not_flagged(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "350.0040")
    batch(campaign, "350.0000")  # half a cent a batch: up to 0.01 EUR is rounding

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "700.00 EUR"
    assert field(html, "cost-difference") == "+0.0040 EUR (under 0.1 %) within rounding"
    assert 'data-testid="cost-flag"' not in html


@pytest.mark.django_db
def test_a_small_real_difference_is_flagged_and_never_shown_as_zero_percent(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "350.0200")
    batch(campaign, "350.0000")

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-difference").startswith("+0.02 EUR (under 0.1 %)")
    assert "0.02 EUR more than estimated" in field(html, "cost-flag")
    assert "0.0 %" not in html


# --- Not reported, partial -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "label", "polled", "words"),
    [
        # Its statistics carry a delivery percentage, no price (it bills credits).
        ("smsdrop", "smsdrop", True, "smsdrop reports no price for these batches"),
        # Nothing to ask at all: not reported from the start.
        ("conpeek", "Conpeek", False, "Conpeek reports nothing about a batch"),
    ],
)
def test_a_provider_that_reports_no_price_shows_not_reported_and_no_figure(
    as_role, acme, slug, label, polled, words
):
    account = ProviderAccount.objects.create(
        workspace=acme.workspace, provider=slug, name=f"Acme {label}", currency="EUR"
    )
    campaign = sent_campaign(acme, account=account)
    batch(campaign, polled=polled)

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == f"Not reported by {label}"
    assert words in field(html, "cost-source")
    assert 'data-testid="cost-difference"' not in html and "%" not in html
    assert 'data-testid="cost-flag"' not in html


@pytest.mark.django_db
def test_a_batch_not_asked_about_yet_is_not_reported_yet(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, polled=False)

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "Not reported yet"


@pytest.mark.django_db
def test_a_partial_report_says_partial_and_is_not_compared_yet(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "350.0000")
    batch(campaign)  # asked, no price yet
    batch(campaign, status=BatchStatus.UNKNOWN, polled=False)  # the provider may have it

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "350.00 EUR so far partial"
    assert "1 of 3 batches reported; the total is partial" in field(html, "cost-source")
    assert field(html, "cost-difference") == "compared once every batch is reported"
    assert "%" not in html and 'data-testid="cost-flag"' not in html


@pytest.mark.django_db
def test_a_partial_report_above_the_estimate_already_is_flagged(as_role, acme):
    campaign = sent_campaign(acme)
    for _ in range(3):
        batch(campaign, "350.0000")
    batch(campaign)

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-flag").endswith(
        "Already 350.00 EUR above the estimate with 3 of 4 batches reported."
    )


@pytest.mark.django_db
def test_batches_that_never_went_out_are_not_waited_for(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "700.0000")
    batch(campaign, status=BatchStatus.CANCELLED, polled=False)
    Batch.objects.create(campaign=campaign, key=uuid4().hex, status=BatchStatus.FAILED)

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "700.00 EUR"
    assert "1 of 1 batches reported." in field(html, "cost-source")


# --- Currencies ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cost_in_another_currency_is_not_compared(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "760.0000", currency="USD")

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "760.00 USD"
    assert field(html, "cost-difference") == "not comparable: estimated in EUR, billed in USD"
    assert "%" not in html and 'data-testid="cost-flag"' not in html


@pytest.mark.django_db
def test_batches_billed_in_two_currencies_are_shown_apart_and_not_summed(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "350.0000")
    batch(campaign, "380.0000", currency="USD")

    tracking.sum_cost(campaign)
    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "350.00 EUR + 380.00 USD"
    assert field(html, "cost-difference") == "not comparable: billed in EUR and USD"
    counters = CampaignCounters.objects.get(campaign=campaign)
    assert (counters.cost, counters.currency) == (None, "")  # no one figure is true


@pytest.mark.django_db
def test_an_unstated_currency_is_taken_as_the_accounts_and_said_so(as_role, acme):
    acme.account.currency = "EUR"
    acme.account.save()
    campaign = sent_campaign(acme)
    batch(campaign, "700.0000", currency="")

    html = cost_part(as_role("viewer"), campaign)

    assert field(html, "cost-actual") == "700.00 EUR"
    assert "BSG did not state the currency; taken as the account's (EUR)." in field(
        html, "cost-source"
    )


# --- The counters' figure (campaign list, overview) ------------------------------------------


@pytest.mark.django_db
def test_sum_cost_adds_what_the_provider_reported_for_each_batch(acme):
    campaign = sent_campaign(acme)
    batch(campaign, "350.0000")
    batch(campaign, "0.0350", currency="eur")
    batch(campaign)

    tracking.sum_cost(campaign)

    counters = CampaignCounters.objects.get(campaign=campaign)
    assert (counters.cost, counters.currency) == (Decimal("350.0350"), "EUR")


@pytest.mark.django_db
def test_the_overview_says_how_many_campaigns_are_not_fully_reported(as_role, acme):
    campaign = sent_campaign(acme)
    batch(campaign, "350.0000")
    batch(campaign)
    tracking.sum_cost(campaign)

    rows = pages.month_spend(acme.workspace, timezone.now())
    html = as_role("viewer").get(reverse("overview")).text

    assert rows[0]["spent"] == "350.00 EUR" and rows[0]["unreported"] == 1
    assert "1 campaign not fully reported" in html


# --- Against the sandbox's ledger ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_actual_cost_is_what_the_sandbox_billed(settings, acme, live_server, client):
    """A BSG campaign sent and tracked through the sandbox, estimated from a rate card out of
    date (0.0300 EUR a message, BSG bills 0.0350): the page shows the ledger's total and flags
    the difference."""
    settings.CRIER_SEND_BATCH_SIZE = 40
    settings.CRIER_POLL_SETTLE_SECONDS = 0
    clock.reset()
    account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, account, 100)
    Campaign.objects.filter(pk=campaign.pk).update(
        estimate={"total": "3.0000", "currency": remote.currency, "messages": 100}
    )
    campaign.refresh_from_db()
    deadline = time.monotonic() + 60
    while campaign.status == CampaignStatus.SENDING and time.monotonic() < deadline:
        sending.run(campaign.pk, budget=5)
        campaign.refresh_from_db()
    for _ in range(20):
        clock.advance(60)
        tracking.poll(campaign)
        if not campaign.batches.filter(cost=None).exists():
            break
    clock.reset()

    client.force_login(acme.user("viewer"))
    html = cost_part(client, campaign)

    billed = Charge.objects.active().filter(account=remote).total()
    assert billed == Decimal("3.5000")
    assert costs.billing(campaign).batches == 3
    assert field(html, "cost-actual") == f"3.50 {remote.currency}"
    assert field(html, "cost-difference").startswith(f"+0.50 {remote.currency} (+16.7 %)")
    assert 'data-testid="cost-flag"' in html
