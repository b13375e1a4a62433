"""A segment's count on the pages: exact where it is cheap, otherwise estimated from a sample
of the book (PostgreSQL), shown as an estimate with its margin and a way to count exactly.

The estimate's thresholds are lowered here so a small book takes that path: every page sampled
(so the estimate is the exact figure before rounding), the cost and the hits needed set to
nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import counting, segments
from contacts.models import Contact
from workspaces.models import Role

from .test_segments_page import HTMX, NEW, URL, rules, shown_count

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the sample is PostgreSQL's TABLESAMPLE"
)


@pytest.fixture
def book(acme):
    Contact.objects.bulk_create(
        Contact(
            workspace=acme.workspace,
            phone=f"+7701000{n:04d}",
            country="KZ",
            fields={"city": "Almaty" if n % 3 else "Oral"},
        )
        for n in range(300)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")  # the statistics the estimate scales by
    return acme


@pytest.fixture
def estimating(monkeypatch):
    monkeypatch.setattr(counting, "EXACT_COST", -1)
    monkeypatch.setattr(counting, "MIN_HITS", 1)
    monkeypatch.setattr(counting, "SAMPLE_PAGES", 1_000_000)


def almaty(workspace):
    rule = {"field": "field:city", "op": "is", "value": "Almaty"}
    return segments.members(workspace, {"rules": [rule]})


@pytest.mark.parametrize(
    ("value", "shown"), [(0, 0), (99, 99), (5_472, 5_500), (83_053, 83_000), (999_999, 1_000_000)]
)
def test_an_estimate_keeps_two_significant_figures(value, shown):
    assert counting.rounded(value) == shown


@postgres_only
def test_a_sample_of_every_page_estimates_the_exact_count(book, estimating):
    tally = counting.tally(almaty(book.workspace), 1_000_000)
    # 200 of the 300 and the fixture's Ann: 201, shown to two figures
    assert tally.estimated and tally.value == 200
    assert counting.tally(almaty(book.workspace), 1_000_000, exact=True).estimated is False


@postgres_only
def test_a_sample_finding_too_few_members_counts_exactly(book, estimating, monkeypatch):
    monkeypatch.setattr(counting, "MIN_HITS", 1_000)
    assert counting.tally(almaty(book.workspace), 1_000_000) == counting.Tally(201)


@postgres_only
def test_a_cheap_count_is_exact(book, monkeypatch):
    monkeypatch.setattr(counting, "MIN_HITS", 1)
    assert counting.tally(almaty(book.workspace), 1_000_000) == counting.Tally(201)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite and others")
def test_elsewhere_every_count_is_exact(book, estimating):
    assert counting.tally(almaty(book.workspace), 1_000_000) == counting.Tally(201)


@postgres_only
def test_the_editor_says_its_count_is_an_estimate_and_counts_exactly_when_asked(
    as_role, book, estimating
):
    client = as_role(Role.SENDER)
    posted = rules(("field:city", "is", "Almaty"), action="count")
    estimate = client.post(NEW, posted, headers=HTMX)
    assert shown_count(estimate) == "about 200"
    assert "estimated from a sample" in estimate.text and 'value="count_exact"' in estimate.text
    exact = client.post(NEW, {**posted, "action": "count_exact"}, headers=HTMX)
    assert shown_count(exact) == "201" and "estimated" not in exact.text


@postgres_only
def test_the_segments_page_marks_an_estimate_and_links_the_exact_count(as_role, book, estimating):
    client = as_role(Role.VIEWER)
    pk = book.segment.pk
    estimate = client.get(URL, {"count": pk}, headers=HTMX)
    assert ">about 1<" in estimate.text
    assert f"{reverse('segment_list')}?count={pk}&amp;exact=1" in estimate.text
    exact = client.get(URL, {"count": pk, "exact": "1"}, headers=HTMX)
    assert exact.text == '<span data-testid="count">1</span>'


def test_a_filter_that_matches_nothing_counts_nothing(book, estimating):
    assert counting.tally(Contact.objects.none(), 1_000_000) == counting.Tally(0)


@postgres_only
def test_a_segment_the_planner_expects_small_is_counted_without_sampling(book, monkeypatch):
    monkeypatch.setattr(counting, "EXACT_COST", -1)
    monkeypatch.setattr(counting, "MIN_HITS", 10_000)  # more than the planner expects
    with CaptureQueriesContext(connection) as queries:
        assert counting.tally(almaty(book.workspace), 1_000_000) == counting.Tally(201)
    assert not [q for q in queries.captured_queries if "TABLESAMPLE" in q["sql"]]
