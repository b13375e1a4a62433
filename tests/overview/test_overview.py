"""The overview: this month's spend per account and currency, the last 30 days' messages by
status, delivery rate per provider, campaigns running now and balances with a low-balance
warning; every figure from the counters rows and the batches' costs, none from counting
messages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Batch, Campaign, CampaignCounters, Message
from campaigns.pages import queries as pages
from core.statuses import CampaignStatus
from providers.models import ProviderAccount


def launch(workspace, account, name, *, days_ago=0, statuses=(), cost=None, status="completed"):
    campaign = Campaign.objects.create(
        workspace=workspace, name=name, account=account, status=status
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        launched_at=timezone.now() - timedelta(days=days_ago)
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7703{campaign.pk:03d}{n:04d}", status=s)
        for n, s in enumerate(statuses)
    )
    if cost is not None:  # billed for one batch, as tracking writes it
        Batch.objects.create(
            campaign=campaign, key=f"k{campaign.pk}", status="submitted",
            accepted=len(statuses), cost=Decimal(cost), currency=account.currency,
        )  # fmt: skip
        CampaignCounters.objects.filter(campaign=campaign).update(
            cost=Decimal(cost), currency=account.currency
        )
    return campaign


@pytest.fixture
def busy(acme):
    """Acme's BSG account (EUR) and a Mobizon one (KZT), with campaigns on both."""
    acme.account.currency = "EUR"
    acme.account.balance = Decimal("100")
    acme.account.save()
    mobizon = ProviderAccount.objects.create(
        workspace=acme.workspace, provider="mobizon", name="Acme Mobizon", currency="KZT",
        balance=Decimal("50"),
    )  # fmt: skip
    ws = acme.workspace
    launch(ws, acme.account, "A", statuses=["delivered"] * 3 + ["undelivered"], cost="1.50")
    launch(ws, acme.account, "B", statuses=["delivered"] * 2 + ["sent"] * 2, cost="2.25",
           status="sending")  # fmt: skip
    launch(ws, mobizon, "C", statuses=["delivered", "rejected"], cost="300")
    launch(ws, acme.account, "Old", days_ago=45, statuses=["failed"] * 5, cost="99")
    return acme, mobizon


def overview(client):
    return client.get(reverse("overview")).text


def test_this_month_s_spend_per_account_and_currency(as_role, busy):
    html = overview(as_role("viewer"))

    rows = re.findall(
        r'data-testid="spend-row"><span>([^<]+)<.*?"font-monospace-sm[^"]*">([^<]+)<', html
    )
    assert ("Acme BSG", "3.75 EUR") in rows and ("Acme Mobizon", "300.00 KZT") in rows


def test_old_campaigns_are_not_this_month_s_spend(busy):
    acme, _ = busy
    now = timezone.now().replace(day=20)

    spend = pages.month_spend(acme.workspace, now)

    assert all(row["spent"] != "99.00 EUR" for row in spend)


def test_delivery_rate_per_provider_over_the_last_30_days(as_role, busy):
    html = overview(as_role("viewer"))

    rates = dict(
        re.findall(
            r'data-testid="provider-rate">.*?<span>([^<]+)</span><span><b>([^<]+)</b>', html, re.S
        )
    )
    # BSG: 5 delivered of 6 with an outcome (the 45-day-old failures are out); Mobizon: 1 of 2.
    assert rates == {"BSG": "83.3 %", "Mobizon": "50.0 %"}


def test_the_last_30_days_chart_sums_the_counters_by_launch_day(busy):
    acme, _ = busy

    days = pages.daily_counts(acme.workspace, timezone.now())

    assert len(days) == 30 and days[-1][0] == timezone.localdate()
    today = days[-1][1]
    assert (today["delivered"], today["undelivered"], today["sent"], today["rejected"]) == (
        6, 1, 2, 1,
    )  # fmt: skip
    assert sum(counts.get("failed") or 0 for _, counts in days) == 0  # 45 days ago


def test_the_chart_is_an_svg_with_a_legend(as_role, busy):
    html = overview(as_role("viewer"))

    assert 'data-testid="daily-chart"' in html
    assert re.search(r'class="legend-swatch chart-delivered"></span>Delivered', html)


def test_the_chart_is_drawn_again_when_a_count_moves(as_role, busy):
    """Kept in the cache under its figures: a second view reads it, a moved count draws it."""
    acme, _ = busy
    client = as_role("viewer")
    chart = re.compile(r'<svg[^>]*data-testid="daily-chart".*?</svg>', re.S)
    first = chart.search(overview(client)).group(0)
    assert chart.search(overview(client)).group(0) == first
    b = Campaign.objects.get(workspace=acme.workspace, name="B")
    Message.objects.filter(campaign=b, status="sent").update(status="delivered")

    again = chart.search(overview(client)).group(0)

    assert again != first and "Delivered 8" in again and "Sent" not in again


def test_campaigns_running_now(as_role, busy):
    html = overview(as_role("viewer"))

    running = re.search(r'data-testid="running".*?</table>', html, re.S).group(0)
    assert ">B</a>" in running and ">A</a>" not in running
    assert "2 of 4" in running  # two delivered, two still sent


def test_a_balance_that_would_not_last_a_week_is_flagged(as_role, busy):
    # Mobizon spent 300 KZT in 30 days: 70 KZT a week; a 50 KZT balance is low.
    html = overview(as_role("viewer"))

    assert 'data-testid="low-balance-warning"' in html
    warning = re.search(r'data-testid="low-balance-warning".*?</div>\s*</div>', html, re.S).group(0)
    assert "Acme Mobizon" in warning and "Acme BSG" not in warning


def test_a_spent_balance_is_low_whatever_the_pace(busy):
    acme, _ = busy
    ProviderAccount.objects.filter(pk=acme.account.pk).update(balance=Decimal("0"))

    rows = pages.balances(acme.workspace, timezone.now())

    assert {row["account"].name: row["low"] for row in rows} == {
        "Acme BSG": True,
        "Acme Mobizon": True,
    }


def test_an_unchecked_balance_is_never_low(busy):
    acme, mobizon = busy
    ProviderAccount.objects.filter(pk=mobizon.pk).update(balance=None)

    rows = pages.balances(acme.workspace, timezone.now())

    assert not [row for row in rows if row["account"].pk == mobizon.pk and row["low"]]


def test_the_overview_never_counts_messages(as_role, busy):
    client = as_role("viewer")

    with CaptureQueriesContext(connection) as queries:
        overview(client)

    assert not [q for q in queries if '"campaigns_message"' in q["sql"]]


def test_another_workspace_is_not_in_the_figures(client, busy, globex):
    launch(globex.workspace, globex.account, "Theirs", statuses=["delivered"], cost="7",
           status=CampaignStatus.SENDING)  # fmt: skip
    acme, _ = busy
    client.force_login(acme.user("owner"))

    html = overview(client)

    assert "Theirs" not in html and "7.00" not in html


def test_no_total_claims_a_currency_the_money_is_not_in(as_role, busy):
    acme, _ = busy
    acme.workspace.currency = "USD"
    acme.workspace.save()

    html = overview(as_role("viewer"))

    assert "USD" not in html
    total = re.search(r'data-testid="spend-total".*?</span></div>', html, re.S).group(0)
    assert re.findall(r"<div>([^<]+)</div>", total) == ["3.75 EUR", "300.00 KZT"]


def test_a_credit_balance_reads_as_credits(as_role, busy):
    acme, _ = busy
    ProviderAccount.objects.create(
        workspace=acme.workspace, provider="smsdrop", name="Acme smsdrop", currency="XOF",
        balance=Decimal("10000"), balance_in_credits=True,
    )  # fmt: skip

    html = overview(as_role("viewer"))

    balances = re.findall(r'data-testid="balance">([^<]+)<', html)
    assert "10,000 credits" in balances and "100.00 EUR" in balances
    assert "XOF" not in html


def test_a_stopped_campaign_s_cancelled_messages_are_not_in_the_delivery_rate(as_role, acme):
    statuses = ["delivered"] * 3 + ["cancelled"] * 2 + ["failed"]
    launch(acme.workspace, acme.account, "Stopped", statuses=statuses, status="cancelled")

    html = overview(as_role("viewer"))

    row = re.search(r'data-testid="provider-rate">.*?</progress>', html, re.S).group(0)
    assert "<b>100.0 %</b>" in row and "of 3 handed over" in row


def test_a_provider_nothing_was_handed_to_has_no_rate(as_role, acme):
    launch(acme.workspace, acme.account, "Refused", statuses=["failed"] * 4)

    html = overview(as_role("viewer"))

    assert 'data-testid="provider-rate"' not in html and "No delivery reports yet." in html


def test_a_currency_reported_in_lower_case_is_summed_with_its_upper_case_twin(as_role, busy):
    """A provider (or an older batch) may say "eur": it is the same money as "EUR", summed
    into one total and shown upper-case."""
    acme, _ = busy
    campaign = launch(acme.workspace, acme.account, "D", statuses=["delivered"], cost="0.25")
    campaign.batches.update(currency="eur")

    html = overview(as_role("viewer"))

    total = re.search(r'data-testid="spend-total".*?</span></div>', html, re.S).group(0)
    assert re.findall(r"<div>([^<]+)</div>", total) == ["4.00 EUR", "300.00 KZT"]
    spend = [row["spent"] for row in pages.month_spend(acme.workspace, timezone.now())]
    assert sorted(spend) == ["300.00 KZT", "4.00 EUR"]
    assert "eur" not in html


def test_a_lower_case_account_currency_counts_towards_its_pace(busy):
    """Spending reported as "EUR" by an account whose currency was saved as "eur" is still
    that account's pace."""
    acme, _ = busy
    ProviderAccount.objects.filter(pk=acme.account.pk).update(currency="eur", balance=10)
    billed = Batch.objects.filter(campaign__account=acme.account)
    billed.update(cost=Decimal("30"), currency="EUR", account=acme.account)

    rows = {row["account"].name: row for row in pages.balances(acme.workspace, timezone.now())}

    assert rows["Acme BSG"]["low"]  # 60 EUR in 30 days: 2 EUR a day; 10 EUR lasts 5
