"""The API's contact-book and template writes leave the same audit events as the pages, saying
which key acted; a refused request writes none, and no event holds a phone number."""

from __future__ import annotations

import pytest

from audit.models import Action
from campaigns.models import MessageTemplate
from contacts.models import Contact, ContactList, Segment
from tests.api.conftest import client_for
from tests.audit.bookkit import book_events, only_event

pytestmark = pytest.mark.usefixtures("no_phone_number_in_any_event")

BASE = "/api/v1"


def test_stop_list_add_and_remove_say_which_key_acted(api, acme):
    api.post(f"{BASE}/stop-list", {"phone": "+77017770001", "note": "STOP"}, format="json")
    api.post(f"{BASE}/stop-list", {"phone": "+77017770001"}, format="json")  # out already
    out = only_event(Action.CONTACTS_OPTED_OUT)
    contact = Contact.objects.get(phone="+77017770001")
    assert out.target == f"contact {contact.pk}"
    assert out.actor_name == "olivia"
    assert out.details["source"] == "API"
    assert out.details["via"].startswith("API key ")
    api.post(f"{BASE}/stop-list/remove", {"phone": "+77017770001"}, format="json")
    _, back = book_events()
    assert (back.action, back.target) == (Action.CONTACT_OPTED_IN, f"contact {contact.pk}")
    assert back.details["source"] == "API" and "via" in back.details


def test_contacts_upserted_patched_and_deleted(api, acme):
    created = api.post(f"{BASE}/contacts", {"phone": "+77017770002", "name": "Bo"}, format="json")
    pk = created.json()["id"]
    api.post(f"{BASE}/contacts", {"phone": "+77017770002", "name": "Bo Rhee"}, format="json")
    api.patch(f"{BASE}/contacts/{pk}", {"fields": {"city": "Oral"}}, format="json")
    api.patch(f"{BASE}/contacts/{pk}", {"fields": {"city": "Oral"}}, format="json")  # no change
    api.delete(f"{BASE}/contacts/{pk}")
    events = book_events()
    assert [e.action for e in events] == [
        Action.CONTACT_CREATED,
        Action.CONTACT_CHANGED,
        Action.CONTACT_CHANGED,
        Action.CONTACT_DELETED,
    ]
    assert {e.target for e in events} == {f"contact {pk}"}
    assert events[1].details["changed"] == ["name"]
    assert events[2].details["changed"] == ["field city"]
    assert all(e.details["source"] == "API" and "via" in e.details for e in events)


def test_lists_and_their_members(api, acme):
    made = api.post(f"{BASE}/lists", {"name": "VIP"}, format="json").json()
    api.patch(f"{BASE}/lists/{made['id']}", {"name": "Gold"}, format="json")
    ids = [acme.contact.pk, acme.stop_entry.pk]
    api.post(f"{BASE}/lists/{made['id']}/members", {"contacts": ids}, format="json")
    api.post(f"{BASE}/lists/{made['id']}/members/remove", {"contacts": ids[:1]}, format="json")
    api.delete(f"{BASE}/lists/{made['id']}")
    created, renamed, added, removed, deleted = book_events()
    assert (created.action, created.target) == (Action.LIST_CREATED, "list VIP")
    assert (renamed.details["old_name"], renamed.details["new_name"]) == ("VIP", "Gold")
    assert (added.action, added.details["contacts"]) == (Action.LIST_MEMBERS_ADDED, 2)
    assert (removed.action, removed.details["contacts"]) == (Action.LIST_MEMBERS_REMOVED, 1)
    assert (deleted.action, deleted.target) == (Action.LIST_DELETED, "list Gold")
    assert not ContactList.objects.filter(pk=made["id"]).exists()


def test_segments(api, acme):
    conditions = {"match": "all", "rules": [{"field": "field:city", "op": "is", "value": "A"}]}
    made = api.post(
        f"{BASE}/segments", {"name": "A", "conditions": conditions}, format="json"
    ).json()
    api.patch(f"{BASE}/segments/{made['id']}", {"conditions": {"match": "any"}}, format="json")
    api.delete(f"{BASE}/segments/{made['id']}")
    created, changed, deleted = book_events()
    assert (created.action, created.target) == (Action.SEGMENT_CREATED, "segment A")
    assert (changed.action, changed.details["changed"]) == (Action.SEGMENT_CHANGED, ["conditions"])
    assert deleted.action == Action.SEGMENT_DELETED
    assert not Segment.objects.filter(pk=made["id"]).exists()


def test_templates(api, acme):
    made = api.post(
        f"{BASE}/templates", {"name": "Spring", "channel": "sms", "text": "Hi"}, format="json"
    ).json()
    api.patch(f"{BASE}/templates/{made['id']}", {"text": "Hello"}, format="json")
    api.delete(f"{BASE}/templates/{made['id']}")
    created, changed, deleted = book_events()
    assert (created.action, created.target) == (Action.TEMPLATE_CREATED, "template Spring")
    assert (changed.action, changed.details["changed"]) == (Action.TEMPLATE_CHANGED, ["text"])
    assert deleted.action == Action.TEMPLATE_DELETED
    assert not MessageTemplate.objects.filter(pk=made["id"]).exists()


def test_refused_requests_write_nothing(api, acme):
    reader = client_for(acme, ["read"], name="Reader")
    assert reader.post(f"{BASE}/lists", {"name": "X"}, format="json").status_code == 403
    assert api.post(f"{BASE}/lists", {"name": "customers"}, format="json").status_code == 400
    assert api.post(f"{BASE}/stop-list", {"phone": "nope"}, format="json").status_code == 400
    missing = {"contacts": [acme.contact.pk, 999999]}
    url = f"{BASE}/lists/{acme.contact_list.pk}/members"
    assert api.post(url, missing, format="json").status_code == 400
    assert api.post(url, {"contacts": [acme.contact.pk]}, format="json").status_code == 200
    assert book_events() == []  # the contact was in the list already: nothing changed
