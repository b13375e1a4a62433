"""The contact book through the API: the stop list, contacts, lists and their members,
segments and message templates. The API refuses what the pages refuse, naming the field;
reading needs ``read``, changing ``send``, deleting and the stop list ``manage``."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from api.models import Scope
from campaigns.models import MessageTemplate
from contacts.models import Contact, ContactField, ContactList, ListMember, Segment
from tests.api.conftest import client_for
from tests.routes import api_routes, url_for

V1 = "/api/v1/"


def fields_of(response) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "/api/v1/problems/validation-error"
    return [error["field"] for error in body["errors"]]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def book_rows():
    """Every row of the contact book and the templates, to prove a refusal changed nothing."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Contact, ContactList, ListMember, Segment, ContactField, MessageTemplate)
    ]


@pytest.fixture
def sender(acme):
    return client_for(acme, [Scope.READ, Scope.SEND], name="Sender")


@pytest.fixture
def kinds(acme):
    """A number, a date and a choice field beside the tenant's text field ``city``."""
    workspace = acme.workspace
    ContactField.objects.create(workspace=workspace, key="age", label="Age", kind="number")
    ContactField.objects.create(workspace=workspace, key="joined", label="Joined", kind="date")
    ContactField.objects.create(
        workspace=workspace, key="tier", label="Tier", kind="choice", choices=["gold", "silver"]
    )


# The stop list


def test_the_stop_list_holds_the_opted_out_contacts_only(api, acme):
    entries = results(api.get(V1 + "stop-list"))
    assert [e["phone"] for e in entries] == [acme.stop_entry.phone]
    assert set(entries[0]) == {"contact", "phone", "opted_out_at", "source", "note"}


def test_a_number_is_opted_out_normalised_and_marked_as_through_the_api(api, acme):
    response = api.post(
        V1 + "stop-list", {"phone": "8 701 222 33 44", "note": "Asked by SMS"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["phone"] == "+77012223344"
    contact = Contact.objects.get(workspace=acme.workspace, phone="+77012223344")
    assert (contact.opt_out_source, contact.opt_out_note) == ("api", "Asked by SMS")
    first = contact.opted_out_at

    again = api.post(V1 + "stop-list", {"phone": "+77012223344", "note": "x"}, format="json")
    assert again.status_code == 200
    contact.refresh_from_db()
    assert (contact.opted_out_at, contact.opt_out_note) == (first, "Asked by SMS")


def test_a_known_contact_opted_out_stays_one_contact(api, acme):
    api.post(V1 + "stop-list", {"phone": acme.contact.phone}, format="json")
    acme.contact.refresh_from_db()
    assert acme.contact.opted_out
    assert Contact.objects.filter(workspace=acme.workspace, phone=acme.contact.phone).count() == 1


def test_a_number_that_is_not_one_is_refused_on_phone(api, acme):
    before = book_rows()
    assert fields_of(api.post(V1 + "stop-list", {"phone": "call me"}, format="json")) == ["phone"]
    assert fields_of(api.post(V1 + "stop-list", {}, format="json")) == ["phone"]
    assert fields_of(api.post(V1 + "stop-list/remove", {"phone": "12"}, format="json")) == ["phone"]
    assert book_rows() == before


def test_remove_opts_the_number_back_in(api, acme):
    response = api.post(V1 + "stop-list/remove", {"phone": "8 701 999 88 77"}, format="json")
    assert response.status_code == 204
    acme.stop_entry.refresh_from_db()
    assert not acme.stop_entry.opted_out
    assert results(api.get(V1 + "stop-list")) == []

    again = api.post(V1 + "stop-list/remove", {"phone": "+77019998877"}, format="json")
    assert again.status_code == 404
    assert "+77019998877" in again.json()["detail"]


def test_another_workspaces_opt_outs_are_neither_listed_nor_removable(api, acme, globex):
    globex.stop_entry.phone = "+77013334455"
    globex.stop_entry.save()
    assert "+77013334455" not in [e["phone"] for e in results(api.get(V1 + "stop-list"))]
    response = api.post(V1 + "stop-list/remove", {"phone": "+77013334455"}, format="json")
    assert response.status_code == 404
    globex.stop_entry.refresh_from_db()
    assert globex.stop_entry.opted_out


def test_changing_the_stop_list_needs_manage(sender, reader, acme):
    for client in (sender, reader):
        added = client.post(V1 + "stop-list", {"phone": "+77012223344"}, format="json")
        assert added.status_code == 403
        assert "“manage”" in added.json()["detail"]
        removed = client.post(V1 + "stop-list/remove", {"phone": "+77019998877"}, format="json")
        assert removed.status_code == 403
    assert reader.get(V1 + "stop-list").status_code == 200
    acme.stop_entry.refresh_from_db()
    assert acme.stop_entry.opted_out
    assert not Contact.objects.filter(phone="+77012223344").exists()


# Contacts


def test_contacts_come_in_id_order_with_their_lists_and_fields(api, acme):
    found = results(api.get(V1 + "contacts"))
    assert [c["id"] for c in found] == sorted([acme.stop_entry.pk, acme.contact.pk])
    ann = next(c for c in found if c["id"] == acme.contact.pk)
    assert ann["phone"] == "+77015550101"
    assert ann["fields"] == {"city": "Almaty"}
    assert ann["lists"] == [acme.contact_list.pk]
    assert ann["opted_out_at"] is None


def test_pages_follow_the_cursor(api, acme):
    for n in range(3):
        Contact.objects.create(workspace=acme.workspace, phone=f"+7701000000{n}")
    first = api.get(V1 + "contacts", {"limit": 2}).json()
    assert len(first["results"]) == 2
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    assert third["next"] is None
    ids = [c["id"] for page in (first, second, third) for c in page["results"]]
    assert ids == sorted(
        Contact.objects.filter(workspace=acme.workspace).values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ({}, {"contact", "stop_entry"}),
        ({"search": ""}, {"contact", "stop_entry"}),
        ({"opted_out": "true"}, {"stop_entry"}),
        ({"opted_out": "false"}, {"contact"}),
        ({"search": "ann"}, {"contact"}),
        ({"search": "8 701 555 01 01"}, {"contact"}),
        ({"search": "+7701999"}, {"stop_entry"}),
        ({"search": "nobody"}, set()),
    ],
)
def test_contacts_filter_by_opt_out_and_search(api, acme, query, who):
    found = {c["id"] for c in results(api.get(V1 + "contacts", query))}
    assert found == {getattr(acme, name).pk for name in who}


def test_contacts_filter_by_list_and_segment(api, acme):
    extra = ContactList.objects.create(workspace=acme.workspace, name="Empty")
    assert [c["id"] for c in results(api.get(V1 + "contacts", {"list": acme.contact_list.pk}))] == [
        acme.contact.pk
    ]
    assert results(api.get(V1 + "contacts", {"list": extra.pk})) == []
    by_segment = results(api.get(V1 + "contacts", {"segment": acme.segment.pk}))
    assert [c["id"] for c in by_segment] == [acme.contact.pk]


def test_a_filter_naming_what_is_not_the_workspaces_is_refused(api, globex):
    assert fields_of(api.get(V1 + "contacts", {"list": globex.contact_list.pk})) == ["list"]
    assert fields_of(api.get(V1 + "contacts", {"segment": globex.segment.pk})) == ["segment"]
    assert fields_of(api.get(V1 + "contacts", {"opted_out": "maybe"})) == ["opted_out"]
    assert fields_of(api.get(V1 + "contacts", {"list": "two"})) == ["list"]


def test_a_segment_whose_rules_no_longer_hold_is_refused_as_a_filter(api, acme):
    acme.contact_list.delete()  # the segment's list rule now names a list that is gone
    response = api.get(V1 + "contacts", {"segment": acme.segment.pk})
    assert fields_of(response) == ["segment"]
    assert "Rule 2" in response.json()["detail"]


def test_a_new_number_creates_a_contact_with_typed_fields(api, acme, kinds):
    response = api.post(
        V1 + "contacts",
        {
            "phone": "8 701 777 00 00",
            "name": "Bo",
            "language": "kk",
            "fields": {"city": "Astana", "age": "42", "joined": "2024-12-31", "tier": "gold"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["phone"], body["country"], body["name"]) == ("+77017770000", "KZ", "Bo")
    contact = Contact.objects.get(pk=body["id"])
    assert contact.workspace == acme.workspace
    assert contact.fields == {"city": "Astana", "age": 42, "joined": "2024-12-31", "tier": "gold"}


def test_a_known_number_changes_that_contact_and_keeps_what_is_left_out(api, acme, kinds):
    response = api.post(
        V1 + "contacts", {"phone": "+7 701 555 01 01", "fields": {"age": 3.5}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == acme.contact.pk
    acme.contact.refresh_from_db()
    assert acme.contact.name == "Ann Lee"
    assert acme.contact.fields == {"city": "Almaty", "age": 3.5}
    assert Contact.objects.filter(workspace=acme.workspace).count() == 2


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"phone": "not a number"}, "phone"),
        ({"phone": "+77017770000", "language": "english please"}, "language"),
        ({"phone": "+77017770000", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"phone": "+77017770000", "name": "x" * 201}, "name"),
        ({"phone": "+77017770000", "fields": {"age": "many"}}, "fields.age"),
        ({"phone": "+77017770000", "fields": {"joined": "someday"}}, "fields.joined"),
        ({"phone": "+77017770000", "fields": {"tier": "bronze"}}, "fields.tier"),
        ({"phone": "+77017770000", "fields": {"shoe": "42"}}, "fields.shoe"),
        ({"phone": "+77017770000", "fields": {"city": {"name": "Almaty"}}}, "fields.city"),
        ({"phone": "+77017770000", "fields": {"city": True}}, "fields.city"),
        ({"phone": "+77017770000", "fields": "city=Almaty"}, "fields"),
        ({"name": "No number"}, "phone"),
        ({"phone": "+77017770000", "name": "Nul\x00"}, "name"),
    ],
)
def test_what_the_contact_form_refuses_the_api_refuses_naming_the_field(
    api, acme, kinds, given, field
):
    before = book_rows()
    assert field in fields_of(api.post(V1 + "contacts", given, format="json"))
    assert book_rows() == before


@pytest.mark.parametrize("key", ["age", "city"])
def test_a_number_json_cannot_hold_is_refused(api, acme, kinds, key):
    body = '{"phone": "+77017770000", "fields": {"KEY": 1e999}}'.replace("KEY", key)
    response = api.post(V1 + "contacts", body, content_type="application/json")
    assert fields_of(response) == [f"fields.{key}"]
    assert not Contact.objects.filter(phone="+77017770000").exists()


def test_patch_changes_only_what_it_names_and_null_clears_a_field(api, acme):
    url = f"{V1}contacts/{acme.contact.pk}"
    response = api.patch(url, {"language": "pt-BR"}, format="json")
    assert response.status_code == 200
    assert (response.json()["language"], response.json()["name"]) == ("pt-BR", "Ann Lee")
    response = api.patch(url, {"fields": {"city": None}}, format="json")
    assert response.json()["fields"] == {}
    assert api.patch(url, {"time_zone": "Nowhere"}, format="json").status_code == 400
    acme.contact.refresh_from_db()
    assert (acme.contact.language, acme.contact.fields) == ("pt-BR", {})


def test_a_contact_is_its_number(api, acme):
    url = f"{V1}contacts/{acme.contact.pk}"
    assert fields_of(api.patch(url, {"phone": "+77010000000"}, format="json")) == ["phone"]
    same = api.patch(url, {"phone": "8 701 555 01 01", "name": "Ann B"}, format="json")
    assert same.status_code == 200
    assert same.json()["phone"] == "+77015550101"


def test_deleting_a_contact_needs_manage(api, sender, acme):
    url = f"{V1}contacts/{acme.contact.pk}"
    assert sender.delete(url).status_code == 403
    assert sender.get(url).status_code == 200
    assert api.delete(url).status_code == 204
    assert not Contact.objects.filter(pk=acme.contact.pk).exists()
    assert not ListMember.objects.filter(contact_list=acme.contact_list).exists()
    assert api.get(url).status_code == 404


def test_deleting_an_opted_out_contact_is_refused_so_the_opt_out_is_not_forgotten(api, acme):
    """Deleting the contact deleted their opt-out with it: the next file holding the number
    would have messaged someone who asked not to be (the contact page's erasure keeps it)."""
    entry = acme.stop_entry
    url = f"{V1}contacts/{entry.pk}"
    before = book_rows()

    refused = api.delete(url)

    assert refused.status_code == 409
    assert refused.json()["type"] == "/api/v1/problems/wrong-state"
    assert "opted out" in refused.json()["detail"]
    assert book_rows() == before
    removed = api.post(f"{V1}stop-list/remove", {"phone": entry.phone}, format="json")
    assert removed.status_code == 204
    assert api.delete(url).status_code == 204


# Lists and their members


def test_lists_are_created_and_renamed_under_a_name_of_their_own(api, acme):
    created = api.post(V1 + "lists", {"name": "  VIP "}, format="json")
    assert created.status_code == 201
    assert created.json()["name"] == "VIP"
    assert fields_of(api.post(V1 + "lists", {"name": "vip"}, format="json")) == ["name"]
    assert fields_of(api.post(V1 + "lists", {}, format="json")) == ["name"]
    url = f"{V1}lists/{created.json()['id']}"
    assert fields_of(api.patch(url, {"name": "Customers"}, format="json")) == ["name"]
    assert api.patch(url, {"name": "VIPs"}, format="json").json()["name"] == "VIPs"
    assert [x["name"] for x in results(api.get(V1 + "lists"))] == ["Customers", "VIPs"]


@pytest.mark.parametrize("relation", ["audience_lists", "exclusion_lists"])
def test_a_list_a_draft_draws_on_is_not_deleted(api, acme, relation):
    getattr(acme.campaign, relation).add(acme.contact_list)
    url = f"{V1}lists/{acme.contact_list.pk}"
    response = api.delete(url)
    assert response.status_code == 409
    assert response.json()["type"] == "/api/v1/problems/wrong-state"
    assert "Acme spring sale" in response.json()["detail"]
    assert ContactList.objects.filter(pk=acme.contact_list.pk).exists()
    getattr(acme.campaign, relation).clear()
    assert api.delete(url).status_code == 204
    assert Contact.objects.filter(pk=acme.contact.pk).exists()


def test_deleting_a_list_needs_manage(sender, acme):
    assert sender.delete(f"{V1}lists/{acme.contact_list.pk}").status_code == 403
    assert ContactList.objects.filter(pk=acme.contact_list.pk).exists()


def test_members_are_added_and_removed_by_contact_id(sender, acme):
    bo = Contact.objects.create(workspace=acme.workspace, phone="+77017770000")
    url = f"{V1}lists/{acme.contact_list.pk}/members"
    ids = [bo.pk, acme.contact.pk, acme.stop_entry.pk, bo.pk]
    added = sender.post(url, {"contacts": ids}, format="json")
    assert added.status_code == 200
    assert added.json()["changed"] == 2
    assert added.json()["list"]["id"] == acme.contact_list.pk
    assert sender.post(url, {"contacts": ids}, format="json").json()["changed"] == 0
    members = set(acme.contact_list.contacts.values_list("pk", flat=True))
    assert members == {bo.pk, acme.contact.pk, acme.stop_entry.pk}

    removed = sender.post(url + "/remove", {"contacts": [bo.pk, acme.contact.pk]}, format="json")
    assert removed.json()["changed"] == 2
    assert list(acme.contact_list.contacts.values_list("pk", flat=True)) == [acme.stop_entry.pk]
    assert Contact.objects.filter(pk=bo.pk).exists()


@pytest.mark.parametrize("path", ["members", "members/remove"])
def test_members_must_be_the_workspaces_contacts(api, acme, globex, path):
    url = f"{V1}lists/{acme.contact_list.pk}/{path}"
    before = book_rows()
    response = api.post(url, {"contacts": [acme.stop_entry.pk, globex.contact.pk]}, format="json")
    assert fields_of(response) == ["contacts"]
    assert str(globex.contact.pk) in response.json()["detail"]
    assert fields_of(api.post(url, {"contacts": []}, format="json")) == ["contacts"]
    assert fields_of(api.post(url, {"contacts": ["one"]}, format="json")) == ["contacts.0"]
    assert fields_of(api.post(url, {"contacts": [10**30]}, format="json")) == ["contacts.0"]
    too_many = {"contacts": list(range(1, 10_002))}
    assert fields_of(api.post(url, too_many, format="json")) == ["contacts"]
    assert book_rows() == before


def test_ten_thousand_members_join_in_one_call(api, acme):
    Contact.objects.bulk_create(
        Contact(workspace=acme.workspace, phone=f"+7702{n:07d}") for n in range(10_000)
    )
    ids = list(Contact.objects.filter(phone__startswith="+7702").values_list("pk", flat=True))
    url = f"{V1}lists/{acme.contact_list.pk}/members"
    assert api.post(url, {"contacts": ids}, format="json").json()["changed"] == 10_000
    assert acme.contact_list.contacts.count() == 10_001


def test_a_read_key_cannot_change_members(reader, acme):
    url = f"{V1}lists/{acme.contact_list.pk}/members/remove"
    assert reader.post(url, {"contacts": [acme.contact.pk]}, format="json").status_code == 403
    assert acme.contact_list.contacts.filter(pk=acme.contact.pk).exists()


# Segments


def test_a_segment_is_created_with_checked_conditions_and_counted(api, acme):
    conditions = {"match": "any", "rules": [{"field": "name", "op": "contains", "value": " ann "}]}
    response = api.post(V1 + "segments", {"name": "Anns", "conditions": conditions}, format="json")
    assert response.status_code == 201, response.content
    stored = response.json()["conditions"]
    assert stored == {
        "match": "any",
        "rules": [{"field": "name", "op": "contains", "value": "ann"}],
    }
    count = api.get(f"{V1}segments/{response.json()['id']}/count")
    assert count.json() == {"count": 1, "more": False, "invalid": ""}


def test_a_segment_without_conditions_counts_every_contact(api, acme):
    created = api.post(V1 + "segments", {"name": "Everyone"}, format="json")
    assert created.status_code == 201
    assert api.get(f"{V1}segments/{created.json()['id']}/count").json()["count"] == 2


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (
            {"rules": [{"field": "name", "op": "is", "value": "A"}, {"field": "x", "op": "is"}]},
            "Rule 2: choose a field.",
        ),
        ({"rules": [{"field": "sent", "op": "within_days", "value": "0"}]}, "Rule 1: "),
        ({"rules": [{"field": "field:city", "op": "lt", "value": "A"}]}, "Rule 1: "),
        ({"match": "some", "rules": []}, "Match must be"),
        ({"rules": "name is Ann"}, "The rules must be a list."),
        ({"rules": [{"field": "name", "op": "is", "value": "A\x00"}]}, "Null characters"),
    ],
)
def test_conditions_the_editor_refuses_are_refused_on_conditions(api, acme, conditions, message):
    before = book_rows()
    response = api.post(V1 + "segments", {"name": "New", "conditions": conditions}, format="json")
    assert fields_of(response) == ["conditions"]
    assert response.json()["errors"][0]["message"].startswith(message)
    assert book_rows() == before


def test_a_list_rule_may_name_only_the_workspaces_lists(api, acme, globex):
    rule = {"field": "list", "op": "in", "value": globex.contact_list.pk}
    response = api.post(
        V1 + "segments", {"name": "Theirs", "conditions": {"rules": [rule]}}, format="json"
    )
    assert fields_of(response) == ["conditions"]
    assert "Rule 1: List: choose one of the workspace's lists." in response.json()["detail"]


def test_a_segment_is_renamed_or_given_new_conditions(api, acme):
    other = Segment.objects.create(workspace=acme.workspace, name="Other")
    url = f"{V1}segments/{acme.segment.pk}"
    taken = api.patch(url, {"name": "other", "conditions": {"match": "x"}}, format="json")
    assert sorted(fields_of(taken)) == ["conditions", "name"]
    conditions = {"rules": [{"field": "opted_out", "op": "yes"}]}
    changed = api.patch(url, {"conditions": conditions}, format="json")
    assert changed.status_code == 200
    assert changed.json()["name"] == "Almaty customers"
    assert changed.json()["conditions"] == {
        "match": "all",
        "rules": [{"field": "opted_out", "op": "yes", "value": ""}],
    }
    assert api.get(url + "/count").json()["count"] == 1
    assert Segment.objects.get(pk=other.pk).name == "Other"


def test_a_segment_whose_list_is_gone_says_why_it_cannot_be_counted(api, acme):
    assert api.get(f"{V1}segments/{acme.segment.pk}/count").json()["count"] == 1
    acme.contact_list.delete()
    body = api.get(f"{V1}segments/{acme.segment.pk}/count").json()
    assert body["count"] is None
    assert body["invalid"].startswith("Rule 2: List")


def test_a_segment_a_draft_draws_on_is_not_deleted(api, sender, acme):
    url = f"{V1}segments/{acme.segment.pk}"
    assert sender.delete(url).status_code == 403
    acme.campaign.audience_segments.add(acme.segment)
    assert api.delete(url).status_code == 409
    acme.campaign.audience_segments.clear()
    assert api.delete(url).status_code == 204
    assert not Segment.objects.filter(pk=acme.segment.pk).exists()


# Message templates


def test_templates_are_created_listed_by_channel_and_changed(sender, acme):
    created = sender.post(
        V1 + "templates", {"name": "Reminder", "text": "See you, {name}"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["channel"] == "sms"
    assert MessageTemplate.objects.get(pk=created.json()["id"]).created_by == acme.user("owner")
    url = f"{V1}templates/{created.json()['id']}"
    assert sender.patch(url, {"channel": "voice"}, format="json").json()["text"] == (
        "See you, {name}"
    )
    assert [t["name"] for t in results(sender.get(V1 + "templates", {"channel": "voice"}))] == [
        "Reminder"
    ]
    assert len(results(sender.get(V1 + "templates"))) == 2


def test_a_template_name_is_the_workspaces_once(api, acme, globex):
    taken = api.post(V1 + "templates", {"name": "acme  WELCOME", "text": "Hi"}, format="json")
    assert fields_of(taken) == ["name"]
    assert "already" in taken.json()["detail"]
    theirs = api.post(V1 + "templates", {"name": "Globex welcome", "text": "Hi"}, format="json")
    assert theirs.status_code == 201


def test_what_the_template_form_refuses_the_api_refuses(api, acme):
    url = f"{V1}templates/{acme.template.pk}"
    before = book_rows()
    assert fields_of(api.patch(url, {"text": ""}, format="json")) == ["text"]
    assert fields_of(api.patch(url, {"text": "x" * 5001}, format="json")) == ["text"]
    assert fields_of(api.patch(url, {"channel": "fax"}, format="json")) == ["channel"]
    assert fields_of(api.post(V1 + "templates", {"name": "No text"}, format="json")) == ["text"]
    assert fields_of(api.get(V1 + "templates", {"channel": "fax"})) == ["channel"]
    assert book_rows() == before


def test_deleting_a_template_needs_manage(api, sender, acme):
    url = f"{V1}templates/{acme.template.pk}"
    assert sender.delete(url).status_code == 403
    assert api.delete(url).status_code == 204
    assert not MessageTemplate.objects.filter(pk=acme.template.pk).exists()


# Scopes and isolation


def _writes(acme):
    contact, book_list = acme.contact.pk, acme.contact_list.pk
    return [
        ("post", "contacts", {"phone": "+77017770000"}),
        ("patch", f"contacts/{contact}", {"name": "X"}),
        ("post", "lists", {"name": "New"}),
        ("patch", f"lists/{book_list}", {"name": "X"}),
        ("post", f"lists/{book_list}/members", {"contacts": [acme.stop_entry.pk]}),
        ("post", "segments", {"name": "New"}),
        ("patch", f"segments/{acme.segment.pk}", {"name": "X"}),
        ("post", "templates", {"name": "New", "text": "Hi"}),
        ("patch", f"templates/{acme.template.pk}", {"name": "X"}),
    ]


def test_a_read_key_reads_the_book_and_changes_nothing(reader, sender, acme):
    for path in ("contacts", "lists", "segments", "templates", "stop-list"):
        assert reader.get(V1 + path).status_code == 200
    before = book_rows()
    for method, path, body in _writes(acme):
        response = getattr(reader, method)(V1 + path, body, format="json")
        assert response.status_code == 403, path
        assert response.json()["type"] == "/api/v1/problems/missing-scope"
    assert book_rows() == before
    for method, path, body in _writes(acme):
        assert getattr(sender, method)(V1 + path, body, format="json").status_code < 300, path


BOOK_ROUTES = [
    (name, kwargs)
    for name, kwargs in api_routes()
    if kwargs and kwargs[0] in {"contact_pk", "list_pk", "segment_pk", "template_pk"}
]


def test_the_book_routes_are_in_the_isolation_matrix():
    assert len(BOOK_ROUTES) == 7


@pytest.mark.parametrize(("name", "kwargs"), BOOK_ROUTES, ids=[n for n, _ in BOOK_ROUTES])
def test_another_workspaces_book_is_404_and_untouched(api, acme, globex, name, kwargs):
    """tests/api/test_isolation.py walks these too; its snapshot leaves out the contacts app."""
    url = url_for(name, kwargs, globex)
    before = book_rows()
    statuses = {
        api.get(url).status_code,
        api.post(url, {"contacts": [acme.contact.pk], "name": "X"}, format="json").status_code,
        api.patch(url, {"name": "X", "conditions": {}}, format="json").status_code,
        api.delete(url).status_code,
    }
    assert statuses <= {404, 405}
    assert 404 in statuses
    assert book_rows() == before


def test_the_openapi_document_is_valid_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    document = target.read_text()
    for path in ("/api/v1/stop-list/remove:", "/api/v1/lists/{list_pk}/members:"):
        assert path in document
    assert "PagedContactList" in document


def test_opted_out_at_is_reported(api, acme):
    now = timezone.now()
    Contact.objects.filter(pk=acme.contact.pk).update(opted_out_at=now, opt_out_source="api")
    body = api.get(f"{V1}contacts/{acme.contact.pk}").json()
    assert body["opt_out_source"] == "api"
    assert body["opted_out_at"] is not None
