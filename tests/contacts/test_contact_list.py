"""The contacts page: search by number in any format, by name and by a field value; filters,
sort and pages; a count capped so a million contacts never get counted for a page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts import search
from contacts.models import Contact, ListMember, Segment
from workspaces.models import Role

URL = reverse("contact_list")


@pytest.fixture
def people(acme):
    """Acme's book: Ann Lee (+77015550101, Almaty, in Customers), the opted-out stop-list
    number, and these three."""
    ws = acme.workspace
    return {
        "bob": Contact.objects.create(
            workspace=ws, phone="+77027770000", country="KZ", name="Bob Marsh",
            fields={"city": "Astana"},
        ),
        "cem": Contact.objects.create(
            workspace=ws, phone="+905321234567", country="TR", name="Cem Yilmaz",
            fields={"city": "Istanbul"},
        ),
        "dee": Contact.objects.create(
            workspace=ws, phone="+447400123456", country="GB", name="dee ann",
            opted_out_at=timezone.now(),
        ),
    }  # fmt: skip


def phones(response) -> list[str]:
    return [c.phone for c in response.context["page"].contacts]


@pytest.mark.parametrize(
    "typed", ["+7 701 555 01 01", "8 (701) 555-01-01", "87015550101", "77015550101", "7015550101"]
)
def test_a_whole_number_is_found_in_any_format(as_role, people, typed):
    assert phones(as_role(Role.VIEWER).get(URL, {"q": typed})) == ["+77015550101"]


@pytest.mark.parametrize("typed", ["+7701555", "8 701 555", "701555", "007701555", "00 7 701 555"])
def test_part_of_a_number_matches_by_its_start(as_role, people, typed):
    assert phones(as_role(Role.VIEWER).get(URL, {"q": typed})) == ["+77015550101"]


def test_a_name_matches_anywhere_in_any_case(as_role, people):
    found = phones(as_role(Role.VIEWER).get(URL, {"q": "ANN"}))
    assert sorted(found) == ["+447400123456", "+77015550101"]


def test_a_field_value_is_searched_in_its_field(as_role, people):
    response = as_role(Role.VIEWER).get(URL, {"field": "city", "value": "Astana"})
    assert phones(response) == ["+77027770000"]


def test_an_unknown_field_says_so_and_filters_nothing_else(as_role, people):
    response = as_role(Role.VIEWER).get(URL, {"field": "shoe", "value": "9"}, follow=True)
    assert "Field: choose one of the workspace" in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"country": "tr"}, ["+905321234567"]),
        ({"opted": "out"}, ["+447400123456", "+77019998877"]),
        ({"opted": "in", "country": "KZ"}, ["+77015550101", "+77027770000"]),
    ],
)
def test_filters_by_country_and_opt_out(as_role, people, query, expected):
    assert phones(as_role(Role.VIEWER).get(URL, query)) == expected


def test_filter_by_list_and_by_segment(as_role, acme, people):
    ListMember.objects.create(contact_list=acme.contact_list, contact=people["cem"])
    client = as_role(Role.VIEWER)
    assert phones(client.get(URL, {"list": acme.contact_list.pk})) == [
        "+77015550101",
        "+905321234567",
    ]
    assert phones(client.get(URL, {"segment": acme.segment.pk})) == ["+77015550101"]


def test_another_workspaces_list_or_segment_shows_nobody(as_role, acme, globex, people):
    client = as_role(Role.VIEWER)
    assert phones(client.get(URL, {"list": globex.contact_list.pk})) == []
    response = client.get(URL, {"segment": globex.segment.pk}, follow=True)
    assert phones(response) == []
    assert "Segment: it no longer exists" in response.text


def test_a_broken_segment_says_what_is_wrong(as_role, acme, people):
    broken = Segment.objects.create(
        workspace=acme.workspace, name="Old", conditions={"rules": [{"field": "field:gone"}]}
    )
    response = as_role(Role.VIEWER).get(URL, {"segment": broken.pk})
    assert phones(response) == []
    assert "Rule 1: choose a field." in response.text


def test_sorts_by_name_both_ways(as_role, people):
    client = as_role(Role.VIEWER)
    ascending = phones(client.get(URL, {"sort": "name", "opted": "in"}))
    assert ascending == ["+77015550101", "+77027770000", "+905321234567"]
    assert phones(client.get(URL, {"sort": "-name", "opted": "in"})) == ascending[::-1]


def test_every_sort_and_hostile_parameters_render(as_role, people):
    client = as_role(Role.VIEWER)
    for sort in ["phone", "-added", "updated", "-updated", "bogus", "-"]:
        assert client.get(URL, {"sort": sort}).status_code == 200
    hostile = {"q": "\x00'; --", "page": "99999999999", "list": "²", "country": "K\x00"}
    assert client.get(URL, hostile).status_code == 200


def test_pages_read_one_row_ahead_and_the_count_is_capped(as_role, acme, monkeypatch):
    Contact.objects.bulk_create(
        Contact(workspace=acme.workspace, phone=f"+7701000{n:04d}") for n in range(60)
    )
    monkeypatch.setattr(search, "COUNT_CAP", 50)
    client = as_role(Role.VIEWER)
    first = client.get(URL)
    assert len(phones(first)) == 50 and first.context["page"].has_next
    assert "of 50+" in first.text
    second = client.get(URL, {"page": 2})
    assert len(phones(second)) == 12 and not second.context["page"].has_next


def test_the_exact_count_below_the_cap(as_role, people):
    response = as_role(Role.VIEWER).get(URL)
    assert response.context["page"].total == 5 and not response.context["page"].more
    assert "1–5 of 5" in response.text  # noqa: RUF001 - the page's en dash


def test_htmx_gets_the_results_alone(as_role, people):
    response = as_role(Role.VIEWER).get(URL, {"q": "Bob"}, headers={"HX-Request": "true"})
    assert 'id="results"' in response.text and "<nav" not in response.text.split("results")[0]
    assert "<html" not in response.text


def test_a_viewer_sees_no_bulk_actions_and_rows_link_to_the_contact(as_role, acme, people):
    response = as_role(Role.VIEWER).get(URL)
    assert 'data-testid="bulk-apply"' not in response.text
    assert reverse("contact_detail", args=[acme.contact.pk]) in response.text


def test_an_empty_book_invites_a_first_contact(as_role, acme):
    Contact.objects.filter(workspace=acme.workspace).delete()
    response = as_role(Role.SENDER).get(URL)
    assert "No contacts yet" in response.text


def test_other_workspaces_contacts_never_show(as_role, globex, people):
    shown = {c.pk for c in as_role(Role.VIEWER).get(URL).context["page"].contacts}
    assert globex.contact.pk not in shown and globex.stop_entry.pk not in shown
