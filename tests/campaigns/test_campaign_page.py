"""The campaign page of a launched campaign: the live part (counters, progress, cost, the chart
from the snapshots, actions) polled every 5 s until the campaign completes, and the recipient
table with its status filter, number search and pages."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    COUNTED_STATUSES,
    Batch,
    Campaign,
    CampaignCounters,
    CounterSnapshot,
    Message,
)
from campaigns.pages import queries as pages
from campaigns.tracking import charts
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from workspaces.models import Workspace

HTMX = {"HX-Request": "true"}


@pytest.fixture
def launched(acme):
    """Acme's campaign, sending: 120 messages, 90 delivered, 20 sent, 10 failed."""
    campaign = acme.campaign
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701{n:07d}", country="KZ", row_number=n + 2)
        for n in range(120)
    )
    ids = list(campaign.messages.order_by("pk").values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[:90]).update(status="delivered", raw_status="DELIVRD")
    Message.objects.filter(pk__in=ids[90:110]).update(status="sent")
    Message.objects.filter(pk__in=ids[110:]).update(status="failed", error_reason="Bad number")
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.SENDING,
        launched_at=timezone.now() - timedelta(hours=1),
        estimate={"total": "4.20", "currency": "EUR", "messages": 120, "segments": 120},
    )
    Batch.objects.create(
        campaign=campaign, key="d" * 32, status=BatchStatus.SUBMITTED, size=110, accepted=110,
        provider_campaign_id="42", cost=Decimal("3.15"), currency="EUR", polled_at=timezone.now(),
    )  # fmt: skip
    CampaignCounters.objects.filter(campaign=campaign).update(cost=Decimal("3.15"), currency="EUR")
    campaign.refresh_from_db()
    return campaign


def snapshot(campaign, minutes: int, **counts) -> CounterSnapshot:
    return CounterSnapshot.objects.create(
        campaign=campaign,
        taken_at=campaign.launched_at + timedelta(minutes=minutes),
        counts={status: counts.get(status, 0) for status in COUNTED_STATUSES},
    )


def live(client, campaign):
    return client.get(reverse("campaign_progress", args=[campaign.pk]), headers=HTMX)


# --- Counters, progress, cost --------------------------------------------------------------


def test_the_counters_show_each_status_with_its_count_and_share(as_role, launched):
    html = live(as_role("viewer"), launched).text

    assert re.search(r'data-status="delivered">.*?data-count="90".*?75\.0 %', html)
    assert re.search(r'data-status="sent">.*?data-count="20".*?16\.7 %', html)
    assert re.search(r'data-status="failed">.*?data-count="10".*?8\.3 %', html)
    assert 'data-status="pending"' not in html  # an empty status takes no line
    assert 'data-testid="final">100 of 120<' in html  # delivered and failed are final
    assert 'data-testid="handed-over">110 of 120<' in html


def test_estimated_and_actual_cost_stand_side_by_side(as_role, launched):
    html = live(as_role("viewer"), launched).text

    assert 'data-testid="cost-estimate">4.20 EUR<' in html
    assert 'data-testid="cost-actual">3.15 EUR<' in html
    assert re.search(r'data-testid="cost-difference"><span[^>]*>-1\.05 EUR \(-25\.0 %\)', html)
    assert "1.05 EUR less than estimated" in html  # flagged: more than rounding
    assert 'data-testid="delivery-rate">90.0 %<' in html  # 90 of the 100 with an outcome


def test_figures_follow_the_messages_without_counting_them(as_role, launched):
    Message.objects.filter(campaign=launched, status="sent").update(status="delivered")
    client = as_role("viewer")

    with CaptureQueriesContext(connection) as queries:
        html = live(client, launched).text
        client.get(reverse("campaign_detail", args=[launched.pk]) + "?status=delivered")

    assert re.search(r'data-status="delivered">.*?data-count="110"', html)
    message_queries = [q["sql"] for q in queries if '"campaigns_message"' in q["sql"]]
    assert not [sql for sql in message_queries if "COUNT(" in sql or "GROUP BY" in sql]


def test_the_live_part_reads_the_batches_once_for_the_cost_the_retry_and_the_routes(
    as_role, launched
):
    """Polled every 5 s: the cost, who billed, the batches being checked and whether any went
    through another account come from one query over the batches (the links and the table of
    the last batches are two more); the workspace is the request's, not read again."""
    client = as_role("viewer")

    with CaptureQueriesContext(connection) as queries:
        html = live(client, launched).text
        page = client.get(reverse("campaign_detail", args=[launched.pk])).text

    assert 'data-testid="cost-actual">3.15 EUR' in html and "3.15 EUR" in page
    batch_queries = [q["sql"] for q in queries if 'FROM "campaigns_batch"' in q["sql"]]
    assert len(batch_queries) == 2 * 3
    workspace_reads = [q for q in queries if q["sql"].startswith('SELECT "dashboard_workspace"')]
    membership_reads = [q for q in queries if 'FROM "dashboard_membership"' in q["sql"]]
    assert not workspace_reads
    assert len(membership_reads) == 2  # one a request, for the workspace and the menu alike


def test_before_the_first_batch_the_live_part_reads_the_batches_once(as_role, launched):
    """Sending has not handed anything over yet: the query for the cost finds no batch, so
    neither the links nor the table of the last batches is asked for."""
    launched.batches.all().delete()
    client = as_role("viewer")

    with CaptureQueriesContext(connection) as queries:
        html = live(client, launched).text

    assert 'data-testid="batches"' not in html and 'data-testid="short-links"' not in html
    assert len([q for q in queries if 'FROM "campaigns_batch"' in q["sql"]]) == 1


# --- The chart -----------------------------------------------------------------------------


def test_the_chart_data_equals_the_snapshots(launched):
    taken = [
        snapshot(launched, 1, pending=120),
        snapshot(launched, 2, pending=60, sent=60),
        snapshot(launched, 3, sent=30, delivered=80, failed=10),
    ]

    points = charts.snapshot_points(launched)

    assert [(p.at, p.counts) for p in points] == [(s.taken_at, s.counts) for s in taken]


def test_the_chart_stacks_one_area_per_status_up_to_the_last_snapshot(as_role, launched):
    snapshot(launched, 1, pending=120)
    snapshot(launched, 5, sent=30, delivered=80, failed=10)

    html = live(as_role("viewer"), launched).text

    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    areas = dict(re.findall(r'<polygon class="chart-(\w+)".*?<title>[^:]+: ([\d,]+) now', svg))
    assert areas == {"delivered": "80", "sent": "30", "pending": "0", "failed": "10"}
    assert "<script" not in html and "style=" not in svg  # the CSP allows neither


def chart_areas(html: str) -> dict[str, str]:
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    return dict(re.findall(r'<polygon class="chart-(\w+)".*?<title>[^:]+: ([\d,]+) now', svg))


def test_the_chart_follows_each_new_snapshot(as_role, launched):
    """The chart is kept between polls while no snapshot is added: a new one redraws it."""
    client = as_role("viewer")
    snapshot(launched, 1, pending=120)
    snapshot(launched, 2, pending=60, sent=60)
    assert chart_areas(live(client, launched).text) == {"pending": "60", "sent": "60"}

    snapshot(launched, 3, sent=30, delivered=80, failed=10)

    html = live(client, launched).text
    assert chart_areas(html) == {"delivered": "80", "sent": "30", "pending": "0", "failed": "10"}
    assert '<span class="legend-swatch chart-failed"></span>Failed' in html


def test_the_chart_is_in_the_time_zone_of_the_workspace_viewing_it(as_role, launched):
    client = as_role("viewer")
    snapshot(launched, 1, pending=120)
    snapshot(launched, 2, pending=60, sent=60)
    first = launched.launched_at + timedelta(minutes=1)
    live(client, launched)

    Workspace.objects.filter(pk=launched.workspace_id).update(time_zone="Asia/Almaty")

    html = live(client, launched).text
    almaty = first.astimezone(zoneinfo.ZoneInfo("Asia/Almaty"))
    assert f">{almaty:%H:%M}</text>" in html


def test_a_long_history_is_thinned_keeping_its_first_and_last_snapshot(launched):
    CounterSnapshot.objects.bulk_create(
        CounterSnapshot(
            campaign=launched,
            taken_at=launched.launched_at + timedelta(seconds=n),
            counts={"delivered": n},
        )
        for n in range(1000)
    )

    points = charts.snapshot_points(launched)

    assert len(points) <= charts.MAX_POINTS + 1
    assert points[0].counts == {"delivered": 0}
    assert points[-1].counts == {"delivered": 999}
    assert [p.at for p in points] == sorted(p.at for p in points)


def test_no_chart_before_two_snapshots(as_role, launched):
    snapshot(launched, 1, pending=120)

    html = live(as_role("viewer"), launched).text

    assert "<svg" not in html
    assert "The chart appears" in html


# --- Polling -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["scheduled", "sending", "paused", "sent"])
def test_the_live_part_polls_every_5s_while_figures_can_move(as_role, launched, status):
    Campaign.objects.filter(pk=launched.pk).update(status=status)

    response = live(as_role("viewer"), launched)

    assert response.status_code == 200
    assert 'hx-trigger="every 5s"' in response.text


def test_polling_stops_once_the_campaign_is_completed(as_role, launched):
    Campaign.objects.filter(pk=launched.pk).update(status=CampaignStatus.COMPLETED)

    response = live(as_role("viewer"), launched)

    assert response.status_code == 286  # htmx: stop polling
    assert "hx-trigger" not in response.text
    assert 'data-testid="campaign-status">Completed<' in response.text


def test_the_recipient_table_reloads_only_when_the_figures_moved(as_role, launched):
    client = as_role("viewer")
    url = reverse("campaign_progress", args=[launched.pk])
    first = client.get(url, headers=HTMX)
    version = re.search(r"hx-vals='\{\"seen\": \"([^\"]+)\"\}'", first.text).group(1)

    unchanged = client.get(url, {"seen": version}, headers=HTMX)
    Message.objects.filter(campaign=launched, status="sent").update(status="delivered")
    moved = client.get(url, {"seen": version}, headers=HTMX)

    assert "HX-Trigger" not in unchanged.headers
    assert "counters-changed" in moved.headers["HX-Trigger"]
    page = client.get(reverse("campaign_detail", args=[launched.pk])).text
    assert 'hx-trigger="counters-changed from:body"' in page  # the table listens


def test_the_last_answer_still_reloads_the_table_and_the_heading(as_role, launched):
    client = as_role("viewer")
    Campaign.objects.filter(pk=launched.pk).update(status=CampaignStatus.COMPLETED)

    response = client.get(
        reverse("campaign_progress", args=[launched.pk]), {"seen": "stale"}, headers=HTMX
    )

    assert response.status_code == 286
    assert "counters-changed" in response.headers["HX-Trigger"]
    assert 'id="campaign-badge" hx-swap-oob="true"' in response.text


def test_a_stopped_campaign_still_polled_keeps_the_page_polling(as_role, launched):
    Campaign.objects.filter(pk=launched.pk).update(
        status=CampaignStatus.CANCELLED, stop_report="Stopped.", next_poll_at=timezone.now()
    )

    response = live(as_role("viewer"), launched)

    assert response.status_code == 200
    assert 'hx-trigger="every 5s"' in response.text


def test_the_page_polls_one_partial_only(as_role, launched):
    html = as_role("viewer").get(reverse("campaign_detail", args=[launched.pk])).text

    assert html.count('hx-trigger="every') == 1
    assert f'hx-get="{reverse("campaign_progress", args=[launched.pk])}"' in html


# --- Actions -------------------------------------------------------------------------------


def test_a_sender_gets_the_actions_each_behind_a_confirmation(as_role, launched):
    html = as_role("sender").get(reverse("campaign_detail", args=[launched.pk])).text

    for action in ("pause", "stop", "retry", "clone"):
        form = re.search(rf'<form[^>]*action="[^"]*/{action}/"[^>]*>', html).group(0)
        assert "hx-confirm=" in form, action
    assert 'data-testid="delete"' not in html  # a launched campaign stays as a record


def test_a_viewer_sees_no_action(as_role, launched):
    html = as_role("viewer").get(reverse("campaign_detail", args=[launched.pk])).text

    for testid in ("pause", "stop", "retry", "clone", "delete"):
        assert f'data-testid="{testid}"' not in html


def test_a_paused_campaign_offers_resume(as_role, launched):
    Campaign.objects.filter(pk=launched.pk).update(status=CampaignStatus.PAUSED)

    html = live(as_role("sender"), launched).text

    assert 'data-testid="resume"' in html and 'data-testid="pause"' not in html


# --- The recipient table -------------------------------------------------------------------


def table_phones(html: str) -> list[str]:
    table = re.search(r'data-testid="recipients-table".*?</table>', html, re.S).group(0)
    return re.findall(r'class="font-monospace-sm">(\+\d+)<', table)


def test_the_status_filter_shows_its_messages_and_counts_them_from_the_counters(as_role, launched):
    url = reverse("campaign_detail", args=[launched.pk]) + "?status=failed"

    html = as_role("viewer").get(url).text

    failed = Message.objects.filter(campaign=launched, status="failed").order_by("pk")
    assert table_phones(html) == [m.phone for m in failed]
    assert 'data-testid="page-range">1\N{EN DASH}10 of 10<' in html
    assert '<option value="failed" selected>Failed (10)</option>' in html


@pytest.mark.parametrize("status", MessageStatus.values)
def test_the_status_filter_finds_every_status_in_order(launched, status):
    """Queued, sent and delivered are left out of the (campaign, status) index on PostgreSQL
    (a poll writes them by the hundred thousand): their pages come from (campaign, id, status)."""
    other = Campaign.objects.create(workspace=launched.workspace, name="Other", text="Hi")
    Message.objects.bulk_create(
        Message(campaign=c, phone=f"+7702{n:07d}", status=status)
        for n in range(4)
        for c in (launched, other)
    )
    wanted = Message.objects.filter(campaign=launched).order_by("pk").values_list("pk", "status")
    wanted = [pk for pk, s in wanted if s == status]

    ids = pages.RecipientFilter(status=status).page_ids(launched, 1, 200)

    assert [row["pk"] for row in ids] == wanted[1:]
    assert list(launched.messages.filter(status=status).order_by("-pk")[:1]) == [
        Message.objects.get(pk=wanted[-1])
    ]


def test_a_status_the_counters_say_is_empty_reads_no_message(launched):
    counters = CampaignCounters.objects.get(campaign=launched)
    assert counters.queued == 0

    with CaptureQueriesContext(connection) as queries:
        page = pages.recipient_page(launched, counters, pages.RecipientFilter("queued"), None)

    assert page.rows == [] and page.total == 0
    assert not any("campaigns_message" in q["sql"] for q in queries.captured_queries)


def test_a_recipient_s_cells_are_text_never_markup(as_role, launched):
    first = launched.messages.order_by("pk").first()
    Message.objects.filter(pk=first.pk).update(
        raw_status="<b>DELIVRD</b>", error_code="1&2", error_reason="<img src=x>"
    )

    html = as_role("viewer").get(reverse("campaign_detail", args=[launched.pk])).text

    assert '<span class="small text-body-secondary">&lt;b&gt;DELIVRD&lt;/b&gt;</span>' in html
    assert '<td class="small">1&amp;2 &lt;img src=x&gt;</td>' in html
    assert "<img src=x>" not in html and "<b>DELIVRD" not in html


def test_pages_walk_the_recipients_in_order(as_role, launched):
    client = as_role("viewer")
    url = reverse("campaign_detail", args=[launched.pk])

    first = client.get(url).text
    third = client.get(url + "?page=3").text

    everyone = list(Message.objects.filter(campaign=launched).order_by("pk"))
    assert table_phones(first) == [m.phone for m in everyone[:50]]
    assert table_phones(third) == [m.phone for m in everyone[100:]]
    assert "Page 1 of 3" in first and 'data-testid="next-page"' in first
    assert 'data-testid="next-page"' not in third


def test_a_search_by_number_finds_it_and_keeps_the_filter_in_the_links(as_role, launched):
    client = as_role("viewer")
    url = reverse("campaign_detail", args=[launched.pk]) + "?q=%2B7701 000 0005&status=delivered"

    response = client.get(url, headers=HTMX | {"HX-Target": "recipients"})

    assert response.text.lstrip().startswith('<div id="recipients"')  # the partial alone
    assert table_phones(response.text) == ["+77010000005"]
    assert "results.csv?status=delivered&amp;q=%2B77010000005" in response.text


@pytest.mark.parametrize(
    "typed",
    ["8 (701) 000-00-05", "+7 701 000 0005", "87010000005", "7010000005", "+7 (701) 000 00 05"],
)
def test_a_search_finds_a_number_however_it_is_typed(as_role, launched, typed):
    """Normalised like an import, with the workspace's default country (Kazakhstan here)."""
    url = reverse("campaign_detail", args=[launched.pk])

    html = as_role("viewer").get(url, {"q": typed}).text

    assert table_phones(html) == ["+77010000005"]


@pytest.mark.parametrize("typed", ["701 000 011", "701-000-011", "(701) 000011", "+7 701 000 011"])
def test_a_partial_number_matches_its_digits_whatever_the_punctuation(as_role, launched, typed):
    url = reverse("campaign_detail", args=[launched.pk])

    html = as_role("viewer").get(url, {"q": typed}).text

    assert table_phones(html) == [f"+7701000011{n}" for n in range(10)]


def test_the_filter_is_sent_by_htmx_and_pushed_to_the_address_bar(as_role, launched):
    html = as_role("viewer").get(reverse("campaign_detail", args=[launched.pk])).text

    form = re.search(r'<form[^>]*data-testid="recipient-filter"[^>]*>', html).group(0)
    assert 'hx-push-url="true"' in form and 'method="get"' in form


def test_a_campaign_without_counters_yet_shows_zeros(launched):
    CampaignCounters.objects.filter(campaign=launched).delete()
    launched = Campaign.objects.get(pk=launched.pk)

    figures = pages.figures(launched, pages.counters_of(launched))

    assert (figures.total, figures.final, figures.by_status) == (0, 0, [])


# --- The message sent ------------------------------------------------------------------------


def test_a_completed_campaign_shows_the_text_it_sent(as_role, launched):
    Campaign.objects.filter(pk=launched.pk).update(
        status=CampaignStatus.COMPLETED, text="Spring sale <b>today</b>\nSee you"
    )

    html = as_role("viewer").get(reverse("campaign_detail", args=[launched.pk])).text

    sent = re.search(r'data-testid="sent-message">.*?</h3>(.*?)</div>', html, re.S)
    assert "Message sent" in sent.group(0)
    assert "Spring sale &lt;b&gt;today&lt;/b&gt;\nSee you" in sent.group(1)
    assert "personalised" not in sent.group(0)


def test_a_personalised_text_says_where_each_recipient_s_text_is(as_role, launched):
    html = as_role("viewer").get(reverse("campaign_detail", args=[launched.pk])).text

    sent = re.search(r'data-testid="sent-message">.*?</p>', html, re.S).group(0)
    assert "Hi {name}" in sent and "personalised" in sent
    assert "exports hold every recipient's text" in sent
