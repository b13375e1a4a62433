"""The segments page and the rules editor: counts, a live count as rules are edited, rows
that follow the field's kind, save with the rule named when one is wrong, delete by admins."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import reverse

from campaigns.models import Campaign
from contacts import search
from contacts.models import Contact, Segment
from contacts.pages import segments as page
from workspaces.models import Role

URL = reverse("segment_list")
COUNT = re.compile(r'data-testid="count-value">([^<]+)<')
CHOSEN = re.compile(r'name="field".*?(?:<option value="([^"]*)" selected>|</select>)', re.S)


def shown_count(response) -> str:
    return COUNT.search(response.text).group(1)


def chosen_fields(response) -> list[str]:
    return [found or "" for found in CHOSEN.findall(response.text)]


NEW = reverse("segment_create")
HTMX = {"HX-Request": "true"}


def rules(*rows, name="Almaty", match="all", action="save") -> dict:
    return {
        "name": name,
        "match": match,
        "action": action,
        "field": [r[0] for r in rows],
        "op": [r[1] for r in rows],
        "value": [r[2] for r in rows],
    }


def test_the_page_lists_segments_and_loads_each_count_by_itself(as_role, acme, globex):
    client = as_role(Role.VIEWER)
    response = client.get(URL)
    assert "Almaty customers" in response.text
    assert f'?count={globex.segment.pk}"' not in response.text
    assert f'hx-get="{URL}?count={acme.segment.pk}"' in response.text
    assert f"{reverse('contact_list')}?segment={acme.segment.pk}" in response.text
    assert reverse("segment_create") not in response.text
    count = client.get(URL, {"count": acme.segment.pk}, headers=HTMX)
    assert count.text == '<span data-testid="count">1</span>'


def test_another_workspaces_segment_is_not_counted(as_role, globex):
    assert as_role(Role.OWNER).get(URL, {"count": globex.segment.pk}).status_code == 404


def test_a_broken_segment_says_why_instead_of_a_count(as_role, acme):
    acme.contact_field.delete()
    response = as_role(Role.VIEWER).get(URL, {"count": acme.segment.pk}, headers=HTMX)
    assert "Rule 1: choose a field." in response.text


def test_the_live_count_follows_the_rules(as_role, acme):
    Contact.objects.create(workspace=acme.workspace, phone="+77027770000", fields={"city": "Oral"})
    client = as_role(Role.SENDER)
    one = client.post(NEW, rules(("field:city", "is", "Almaty"), action="count"), headers=HTMX)
    assert shown_count(one) == "1" and 'id="count"' in one.text and "<form" not in one.text
    either = rules(("field:city", "is", "Almaty"), ("field:city", "is", "Oral"), match="any")
    assert shown_count(client.post(NEW, {**either, "action": "count"}, headers=HTMX)) == "2"
    assert not Segment.objects.filter(name="Almaty", workspace=acme.workspace).exists()


def test_the_live_count_is_capped(as_role, acme, monkeypatch):
    monkeypatch.setattr(page, "SEGMENT_COUNT_CAP", 1)
    Contact.objects.create(workspace=acme.workspace, phone="+77027770000")
    response = as_role(Role.SENDER).post(NEW, rules(action="count"), headers=HTMX)
    assert shown_count(response) == "1+"
    assert search.COUNT_CAP > 1  # the contacts page's cap is its own


def test_an_unfinished_rule_is_explained_in_place_of_the_count(as_role, acme):
    response = as_role(Role.SENDER).post(
        NEW, rules(("field:city", "is", ""), action="count"), headers=HTMX
    )
    assert "Rule 1: enter a value for City." in response.text


def test_adding_and_removing_rules_redraws_the_editor(as_role, acme):
    client = as_role(Role.SENDER)
    added = client.post(NEW, rules(("country", "is", "KZ"), action="add"), headers=HTMX)
    assert chosen_fields(added) == ["country", ""]
    assert 'id="editor"' in added.text and "<html" not in added.text
    two = rules(("country", "is", "KZ"), ("opted_out", "no", ""), action="remove:0")
    removed = client.post(NEW, two, headers=HTMX)
    assert chosen_fields(removed) == ["opted_out"]


@pytest.mark.parametrize("index", ["²", "-1", "x", "99"])
def test_removing_a_rule_that_is_not_there_changes_nothing(as_role, acme, index):
    posted = rules(("country", "is", "KZ"), action=f"remove:{index}")
    response = as_role(Role.SENDER).post(NEW, posted, headers=HTMX)
    assert response.status_code == 200
    assert chosen_fields(response) == ["country"]


def test_the_value_input_follows_the_fields_kind(as_role, acme):
    client = as_role(Role.SENDER)
    posted = rules(
        ("country", "is", ""),
        ("list", "in", ""),
        ("sent", "within_days", ""),
        ("opted_out", "yes", ""),
        ("field:city", "", ""),
        action="refresh",
    )
    rows = page._rows(acme.workspace, page._posted(QueryDict(urlencode(posted, doseq=True))))
    assert [r["input"] for r in rows] == ["select", "select", "number", "none", "text"]
    assert rows[4]["op"] == "is"  # a new field starts at its first operator
    assert (str(acme.contact_list.pk), "Customers") in rows[1]["options"]
    html = client.post(NEW, posted, headers=HTMX).text
    assert 'aria-label="Rule 3: value"' in html and 'type="number"' in html
    assert f'<option value="{acme.contact_list.pk}">Customers</option>' in html


def test_save_stores_the_checked_rules(as_role, acme):
    response = as_role(Role.SENDER).post(
        NEW, rules(("field:city", "is", " Almaty "), ("opted_out", "no", "ignored"))
    )
    saved = Segment.objects.get(workspace=acme.workspace, name="Almaty")
    assert response.status_code == 302 and response.url == reverse("segment_edit", args=[saved.pk])
    assert saved.conditions == {
        "match": "all",
        "rules": [
            {"field": "field:city", "op": "is", "value": "Almaty"},
            {"field": "opted_out", "op": "no", "value": ""},
        ],
    }


def test_save_names_the_wrong_rule_and_keeps_what_was_typed(as_role, acme):
    response = as_role(Role.SENDER).post(
        NEW, rules(("country", "is", "KZ"), ("sent", "within_days", "soon"))
    )
    assert "Rule 2: Sent a message needs a number of days between 1 and 36500." in response.text
    assert 'value="soon"' in response.text
    assert not Segment.objects.filter(workspace=acme.workspace, name="Almaty").exists()


def test_a_duplicate_name_is_refused(as_role, acme):
    response = as_role(Role.SENDER).post(NEW, rules(name="almaty customers"))
    assert "a segment named “almaty customers” already" in response.text


def test_editing_shows_the_stored_rules_and_a_members_link(as_role, acme):
    response = as_role(Role.SENDER).get(reverse("segment_edit", args=[acme.segment.pk]))
    assert [r["field"] for r in response.context["rows"]] == ["field:city", "list"]
    assert response.context["count"] == 1
    assert f"?segment={acme.segment.pk}" in response.text


def test_viewers_and_foreign_segments(as_role, acme, globex):
    viewer = as_role(Role.VIEWER)
    assert viewer.get(NEW).status_code == 403
    assert viewer.post(reverse("segment_edit", args=[acme.segment.pk]), rules()).status_code == 403
    owner = as_role(Role.OWNER)
    assert owner.get(reverse("segment_edit", args=[globex.segment.pk])).status_code == 404


def test_only_an_admin_deletes_a_segment_no_draft_uses(as_role, acme):
    url = reverse("segment_delete", args=[acme.segment.pk])
    assert as_role(Role.SENDER).post(url).status_code == 403
    Campaign.objects.get(pk=acme.campaign.pk).audience_segments.add(acme.segment)
    kept = as_role(Role.ADMIN).post(url, follow=True)
    assert "The draft Acme spring sale draws on Almaty customers" in kept.text
    Campaign.objects.get(pk=acme.campaign.pk).audience_segments.clear()
    gone = as_role(Role.ADMIN).post(url, follow=True)
    assert "Deleted the segment Almaty customers; no contact was changed." in gone.text
    assert Contact.objects.filter(pk=acme.contact.pk).exists()
