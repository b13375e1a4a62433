"""The campaign list: search, filters, sorting and pages, through HTMX with a shareable URL."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounters, Channel, Message
from core.statuses import CampaignStatus
from providers.models import ProviderAccount

HTMX = {"HX-Request": "true"}


@pytest.fixture
def campaigns(acme):
    """Four campaigns besides Acme's draft, with counters of their own."""
    other = ProviderAccount.objects.create(
        workspace=acme.workspace, provider="mobizon", name="Acme Mobizon", currency="KZT"
    )
    made = {}
    specs = [
        # name, sender, text, status, channel, account, messages, delivered, cost, days ago
        ("Winter promo", "AcmeInfo", "Snow sale", "completed", "sms", acme.account, 6, 3, "9", 40),
        ("Reminder", "AcmeTeam", "Your winter order", "sending", "sms", other, 4, 4, "2", 10),
        ("Voice poll", "", "Press one", "completed", "voice", other, 2, 1, None, 5),
        ("Spring news", "AcmeInfo", "Hello", "cancelled", "sms", acme.account, 8, 0, "1", 1),
    ]
    for name, sender, text, status, channel, account, size, delivered, cost, age in specs:
        campaign = Campaign.objects.create(
            workspace=acme.workspace, name=name, sender=sender, text=text, channel=channel,
            account=account, status=status,
        )  # fmt: skip
        Campaign.objects.filter(pk=campaign.pk).update(
            created_at=timezone.now() - timedelta(days=age),
            launched_at=timezone.now() - timedelta(days=age),
        )
        Message.objects.bulk_create(
            Message(campaign=campaign, phone=f"+7702{campaign.pk:03d}{n:04d}", status=s)
            for n, s in enumerate(["delivered"] * delivered + ["undelivered"] * (size - delivered))
        )
        CampaignCounters.objects.filter(campaign=campaign).update(
            cost=Decimal(cost) if cost else None, currency=account.currency
        )
        made[name] = campaign
    return made


def names(html: str) -> list[str]:
    return re.findall(r'<a class="fw-medium" href="/campaigns/\d+/">([^<]+)</a>', html)


def listing(client, query: str = "", **headers) -> str:
    return client.get(reverse("campaign_list") + query, headers=headers or None).text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=winter", {"Winter promo", "Reminder"}),  # a name, and a text
        ("?q=acmeteam", {"Reminder"}),  # a sender
        ("?status=completed", {"Winter promo", "Voice poll"}),
        ("?channel=voice", {"Voice poll"}),
        ("?status=sending&channel=sms", {"Reminder"}),
    ],
)
def test_search_and_filters_narrow_the_list(as_role, campaigns, query, expected):
    assert set(names(listing(as_role("viewer"), query))) == expected


def test_the_account_filter(as_role, acme, campaigns):
    html = listing(as_role("viewer"), f"?account={acme.account.pk}")

    assert set(names(html)) == {"Winter promo", "Spring news", "Acme spring sale"}


def test_the_date_range_is_on_the_creation_day(as_role, campaigns):
    today = timezone.localdate()
    query = f"?since={today - timedelta(days=11)}&until={today - timedelta(days=2)}"

    assert set(names(listing(as_role("viewer"), query))) == {"Reminder", "Voice poll"}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-recipients", ["Spring news", "Winter promo", "Reminder", "Voice poll"]),
        ("recipients", ["Voice poll", "Reminder", "Winter promo", "Spring news"]),
        # Delivered among known outcomes: 100 %, 50 %, 50 %, 0 %; the newer first on a tie.
        ("-rate", ["Reminder", "Voice poll", "Winter promo", "Spring news"]),
        # A campaign without a reported cost comes last either way.
        ("-cost", ["Winter promo", "Reminder", "Spring news", "Voice poll"]),
        ("cost", ["Spring news", "Reminder", "Winter promo", "Voice poll"]),
        ("created", ["Winter promo", "Reminder", "Voice poll", "Spring news"]),
    ],
)
def test_sorting(as_role, campaigns, sort, expected):
    yesterday = timezone.localdate() - timedelta(days=1)
    html = listing(as_role("viewer"), f"?sort={sort}&until={yesterday}")  # not today's draft

    assert names(html) == expected


def test_rows_show_recipients_delivery_rate_and_cost_from_the_counters(as_role, campaigns):
    campaigns["Winter promo"].account.currency = "EUR"
    campaigns["Winter promo"].account.save()
    CampaignCounters.objects.filter(campaign=campaigns["Winter promo"]).update(currency="")

    html = listing(as_role("viewer"), "?q=winter+promo")

    assert re.search(r'data-testid="recipients">6<.*?data-testid="rate">50.0 %<', html, re.S)
    assert 'data-testid="cost">9.00 EUR<' in html  # the account's currency when none reported


def test_a_page_of_rows_costs_the_same_queries_as_one_row(as_role, campaigns):
    """Each row's account and counters come with it: no query a row."""
    client = as_role("viewer")
    listing(client)  # the session's first request writes it
    with CaptureQueriesContext(connection) as one:
        assert len(names(listing(client, "?q=winter+promo"))) == 1
    with CaptureQueriesContext(connection) as every:
        assert len(names(listing(client))) == 5

    assert len(every) == len(one)


def test_an_htmx_request_gets_the_results_alone(as_role, campaigns):
    html = listing(as_role("viewer"), "?status=completed", **HTMX)

    assert html.lstrip().startswith('<div id="results">')
    assert "<nav" not in html.split('<div id="results">')[0]


def test_the_filters_and_sort_links_keep_a_shareable_url(as_role, campaigns):
    html = listing(as_role("viewer"), "?q=winter&sort=-cost")

    form = re.search(r'<form[^>]*data-testid="campaign-filters"[^>]*>', html).group(0)
    assert 'hx-push-url="true"' in form and 'method="get"' in form
    link = re.search(r'<a class="sort-link" href="([^"]+)"[^>]*data-sort="cost"', html)
    assert link.group(1) == "?q=winter&amp;sort=cost"  # flips the current sort
    assert f'hx-get="{link.group(1)}"' in link.group(0)
    assert '<input type="hidden" name="sort" value="-cost" form="campaign-filters">' in html


def test_pages_keep_the_filters(as_role, acme):
    Campaign.objects.bulk_create(
        Campaign(workspace=acme.workspace, name=f"Bulk {n:02d}", status=CampaignStatus.DRAFT)
        for n in range(30)
    )

    first = listing(as_role("viewer"), "?q=bulk&sort=created")
    second = listing(as_role("viewer"), "?q=bulk&sort=created&page=2")

    assert len(names(first)) == 25 and len(names(second)) == 5
    assert 'href="?page=2&amp;q=bulk&amp;sort=created"' in first


def test_nonsense_in_the_query_string_is_ignored(as_role, campaigns):
    html = listing(as_role("viewer"), "?sort=;drop&status=nope&account=x&since=2026-13-45")

    assert len(names(html)) == 5


def test_no_match_says_so(as_role, campaigns):
    assert 'data-testid="no-match"' in listing(as_role("viewer"), "?q=nothing-like-this")


def test_another_workspace_s_campaigns_never_show(as_role, campaigns, globex):
    html = listing(as_role("owner"))

    assert globex.campaign.name not in names(html)
    assert Channel.SMS  # the list reads the channel's label


def test_a_row_shows_its_name_and_sender_as_text_never_as_markup(as_role, campaigns):
    Campaign.objects.filter(pk=campaigns["Reminder"].pk).update(
        name="<b>Bold</b> & co", sender='"><i>x'
    )

    html = listing(as_role("viewer"))

    assert ">&lt;b&gt;Bold&lt;/b&gt; &amp; co</a>" in html
    assert '<div class="small text-body-secondary">&quot;&gt;&lt;i&gt;x</div>' in html
    assert "<b>Bold</b>" not in html and "<i>x" not in html
