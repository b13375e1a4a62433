"""The contact book and message templates leave one audit event per change made on the pages:
opt-outs and opt-ins, bulk list changes, lists, segments, fields, templates, contacts and
imports. A refused change writes none, and no event ever holds a phone number."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import Action
from audit.views import action_groups
from campaigns.models import MessageTemplate
from campaigns.recipients import stoplist
from contacts import importing
from contacts.models import (
    Contact,
    ContactField,
    ContactImport,
    ContactList,
    ImportStatus,
    ListAction,
    Segment,
    UpsertMode,
)
from core.statuses import CampaignStatus
from tests.audit.bookkit import BOOK, book_events, only_event
from workspaces.models import Role

pytestmark = pytest.mark.usefixtures("no_phone_number_in_any_event")


# Opt-outs and opt-ins


def test_opting_a_contact_out_on_its_page_is_one_event_naming_it_by_id(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("contact_opt_out", args=[acme.contact.pk]), {"note": "asked by phone"})
    event = only_event(Action.CONTACTS_OPTED_OUT)
    assert event.actor == acme.user(Role.SENDER)
    assert event.target == f"contact {acme.contact.pk}"
    assert event.details == {"contact_id": acme.contact.pk, "opted_out": 1, "source": "page"}
    client.post(reverse("contact_opt_out", args=[acme.contact.pk]))  # out already: no change
    assert len(book_events()) == 1


def test_opting_a_contact_back_in_on_its_page_is_recorded(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("contact_opt_in", args=[acme.stop_entry.pk]))
    event = only_event(Action.CONTACT_OPTED_IN)
    assert event.target == f"contact {acme.stop_entry.pk}"
    assert event.details == {"contact_id": acme.stop_entry.pk, "source": "page"}


def test_a_viewer_cannot_opt_out_and_nothing_is_recorded(as_role, acme):
    response = as_role(Role.VIEWER).post(reverse("contact_opt_out", args=[acme.contact.pk]))
    assert response.status_code == 403
    assert book_events() == []


def test_the_stop_list_page_records_numbers_added_by_hand_as_a_count(as_role, acme):
    as_role(Role.SENDER).post(
        reverse("stop_list"), {"numbers": "+77017770001\n+77017770002", "note": "by hand"}
    )
    event = only_event(Action.CONTACTS_OPTED_OUT)
    assert event.target == "2 numbers"
    assert event.details == {"opted_out": 2, "source": "page"}


def test_a_stop_list_file_is_one_event_however_many_batches(as_role, acme, monkeypatch):
    monkeypatch.setattr(stoplist, "_BATCH", 2)
    content = "phone\n" + "".join(f"+7701888000{n}\n" for n in range(7)) + "not a number\n"
    as_role(Role.SENDER).post(
        reverse("stop_list_upload"),
        {"file": SimpleUploadedFile("optouts.csv", content.encode()), "note": "March"},
    )
    event = only_event(Action.CONTACTS_OPTED_OUT)
    assert event.target == "7 numbers"
    assert event.details == {"opted_out": 7, "source": "file"}


def test_removing_from_the_stop_list_is_an_opt_in(as_role, acme):
    as_role(Role.ADMIN).post(reverse("stop_list_remove", args=[acme.stop_entry.pk]))
    event = only_event(Action.CONTACT_OPTED_IN)
    assert event.target == f"contact {acme.stop_entry.pk}"
    assert event.details["source"] == "stop list"


def test_a_sender_cannot_remove_from_the_stop_list_and_nothing_is_recorded(as_role, acme):
    response = as_role(Role.SENDER).post(reverse("stop_list_remove", args=[acme.stop_entry.pk]))
    assert response.status_code == 403
    assert book_events() == []


# Bulk actions: one event however many contacts


@pytest.fixture
def many(acme):
    Contact.objects.bulk_create(
        Contact(workspace=acme.workspace, phone=f"+770200{n:05}", country="KZ") for n in range(300)
    )
    return ContactList.objects.create(workspace=acme.workspace, name="Later")


def test_a_bulk_opt_out_of_every_matching_contact_is_one_event_with_its_count(as_role, many):
    as_role(Role.SENDER).post(
        reverse("contact_bulk"), {"action": "opt_out", "scope": "all", "opted": "in"}
    )
    event = only_event(Action.CONTACTS_OPTED_OUT)
    assert event.target == "301 numbers"
    assert event.details == {"opted_out": 301, "source": "contacts page"}


def test_bulk_list_changes_are_one_event_each(as_role, acme, many):
    client = as_role(Role.SENDER)
    client.post(reverse("contact_bulk"), {"action": "add", "target": many.pk, "scope": "all"})
    ticked = list(many.contacts.values_list("pk", flat=True)[:3])
    client.post(reverse("contact_bulk"), {"action": "remove", "target": many.pk, "contact": ticked})
    added, removed = book_events()
    assert (added.action, added.target) == (Action.LIST_MEMBERS_ADDED, "list Later")
    # Every contact of the book: the 300, Acme's contact and its opted-out one
    assert added.details == {"list_id": many.pk, "contacts": 302, "source": "contacts page"}
    assert (removed.action, removed.target) == (Action.LIST_MEMBERS_REMOVED, "list Later")
    assert removed.details == {"list_id": many.pk, "contacts": 3, "source": "contacts page"}


def test_a_refused_bulk_action_writes_nothing(as_role, acme, many):
    as_role(Role.SENDER).post(reverse("contact_bulk"), {"action": "add", "scope": "all"})
    as_role(Role.SENDER).post(reverse("contact_bulk"), {"action": "opt_out"})  # none ticked
    assert as_role(Role.VIEWER).post(reverse("contact_bulk"), {"action": "opt_out", "scope": "all"})
    assert book_events() == []


def test_a_bulk_action_that_changes_nobody_writes_nothing(as_role, acme):
    as_role(Role.SENDER).post(
        reverse("contact_bulk"),
        {"action": "add", "target": acme.contact_list.pk, "contact": [acme.contact.pk]},
    )
    assert book_events() == []


def test_a_contacts_lists_on_its_page_are_recorded(as_role, acme):
    client = as_role(Role.SENDER)
    url = reverse("contact_lists", args=[acme.contact.pk])
    client.post(url, {"remove": acme.contact_list.pk})
    client.post(url, {"add": acme.contact_list.pk})
    removed, added = book_events()
    assert removed.action == Action.LIST_MEMBERS_REMOVED
    assert added.action == Action.LIST_MEMBERS_ADDED
    assert added.target == "list Customers"
    assert added.details == {
        "list_id": acme.contact_list.pk,
        "contacts": 1,
        "contact_id": acme.contact.pk,
        "source": "contact page",
    }


# Lists, segments, fields


def test_lists_created_renamed_and_deleted(as_role, acme):
    as_role(Role.SENDER).post(reverse("list_index"), {"name": "VIP"})
    vip = ContactList.objects.get(name="VIP")
    as_role(Role.SENDER).post(reverse("list_rename", args=[vip.pk]), {"name": "Gold"})
    as_role(Role.ADMIN).post(reverse("list_delete", args=[vip.pk]))
    created, renamed, deleted = book_events()
    assert (created.action, created.target) == (Action.LIST_CREATED, "list VIP")
    assert created.details == {"list_id": vip.pk, "source": "page"}
    assert (renamed.action, renamed.target) == (Action.LIST_RENAMED, "list Gold")
    assert renamed.details == {
        "list_id": vip.pk,
        "old_name": "VIP",
        "new_name": "Gold",
        "source": "page",
    }
    assert (deleted.action, deleted.target) == (Action.LIST_DELETED, "list Gold")


def test_a_refused_list_change_writes_nothing(as_role, acme):
    acme.campaign.status = CampaignStatus.DRAFT
    acme.campaign.save()
    acme.campaign.audience_lists.add(acme.contact_list)
    as_role(Role.ADMIN).post(reverse("list_delete", args=[acme.contact_list.pk]))
    as_role(Role.SENDER).post(reverse("list_index"), {"name": "customers"})  # taken
    as_role(Role.SENDER).post(reverse("list_delete", args=[acme.contact_list.pk]))  # role
    as_role(Role.SENDER).post(
        reverse("list_rename", args=[acme.contact_list.pk]), {"name": "Customers"}
    )  # no change
    assert ContactList.objects.filter(pk=acme.contact_list.pk).exists()
    assert book_events() == []


def segment_post(name, value="Almaty"):
    return {
        "name": name,
        "match": "all",
        "action": "save",
        "field": ["field:city"],
        "op": ["is"],
        "value": [value],
    }


def test_segments_created_changed_and_deleted(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("segment_create"), segment_post("Almaty"))
    almaty = Segment.objects.get(name="Almaty")
    client.post(reverse("segment_edit", args=[almaty.pk]), segment_post("Oral", "Oral"))
    client.post(reverse("segment_edit", args=[almaty.pk]), segment_post("Oral", "Oral"))
    as_role(Role.ADMIN).post(reverse("segment_delete", args=[almaty.pk]))
    created, changed, deleted = book_events()
    assert (created.action, created.target) == (Action.SEGMENT_CREATED, "segment Almaty")
    assert (changed.action, changed.target) == (Action.SEGMENT_CHANGED, "segment Oral")
    assert changed.details == {
        "segment_id": almaty.pk,
        "old_name": "Almaty",
        "new_name": "Oral",
        "changed": ["name", "conditions"],
        "source": "page",
    }
    assert (deleted.action, deleted.target) == (Action.SEGMENT_DELETED, "segment Oral")


def test_an_invalid_segment_writes_nothing(as_role, acme):
    as_role(Role.SENDER).post(reverse("segment_create"), segment_post("Empty city", ""))
    assert book_events() == []


def test_fields_created_changed_and_deleted_with_the_values_dropped(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("field_create"), {"label": "Tier", "key": "tier", "kind": "text"})
    tier = ContactField.objects.get(key="tier")
    client.post(reverse("field_edit", args=[tier.pk]), {"label": "Level", "kind": "text"})
    as_role(Role.ADMIN).post(reverse("field_delete", args=[acme.contact_field.pk]))
    created, changed, deleted = book_events()
    assert (created.action, created.target) == (Action.FIELD_CREATED, "field Tier")
    assert created.details == {"field_id": tier.pk, "placeholder": "{tier}", "source": "page"}
    assert (changed.action, changed.target) == (Action.FIELD_CHANGED, "field Level")
    assert changed.details["old_label"] == "Tier" and changed.details["new_label"] == "Level"
    assert (deleted.action, deleted.target) == (Action.FIELD_DELETED, "field City")
    assert deleted.details == {
        "field_id": acme.contact_field.pk,
        "placeholder": "{city}",
        "values_dropped": 1,
        "source": "page",
    }


# Contacts


def test_contacts_added_and_changed_name_the_fields_never_the_values(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("contact_create"), {"phone": "+77017770009", "name": "Bo Rhee"})
    bo = Contact.objects.get(phone="+77017770009")
    client.post(
        reverse("contact_edit", args=[acme.contact.pk]),
        {"name": "Ann Lee-Park", "language": "", "time_zone": "", "f_city": "Oral"},
    )
    created, changed = book_events()
    assert (created.action, created.target) == (Action.CONTACT_CREATED, f"contact {bo.pk}")
    assert created.details == {"contact_id": bo.pk, "source": "page"}
    assert changed.action == Action.CONTACT_CHANGED
    assert changed.target == f"contact {acme.contact.pk}"
    assert changed.details == {
        "contact_id": acme.contact.pk,
        "changed": ["name", "field city"],
        "source": "page",
    }
    dump = json.dumps([e.details for e in book_events()]) + created.target + changed.target
    assert "Bo Rhee" not in dump and "Oral" not in dump and "Ann" not in dump


# Templates


def test_templates_created_changed_and_deleted(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("template_create"), {"name": "Spring", "channel": "sms", "text": "Hi"})
    spring = MessageTemplate.objects.get(name="Spring")
    client.post(
        reverse("template_edit", args=[spring.pk]),
        {"name": "Summer", "channel": "sms", "text": "Hello"},
    )
    client.post(reverse("template_delete", args=[spring.pk]))
    created, changed, deleted = book_events()
    assert (created.action, created.target) == (Action.TEMPLATE_CREATED, "template Spring")
    assert created.details == {"template_id": spring.pk, "channel": "sms", "source": "page"}
    assert (changed.action, changed.target) == (Action.TEMPLATE_CHANGED, "template Summer")
    assert changed.details == {
        "template_id": spring.pk,
        "old_name": "Spring",
        "new_name": "Summer",
        "changed": ["name", "text"],
        "source": "page",
    }
    assert (deleted.action, deleted.target) == (Action.TEMPLATE_DELETED, "template Summer")


def test_save_as_template_from_compose_is_recorded_and_a_taken_name_is_not(as_role, acme):
    client = as_role(Role.SENDER)
    url = reverse("campaign_template_save", args=[acme.campaign.pk])
    client.post(url, {"name": acme.template.name, "text": "x"})
    assert book_events() == []
    client.post(url, {"name": "From the draft", "text": "x"})
    event = only_event(Action.TEMPLATE_CREATED)
    assert event.target == "template From the draft"
    assert event.details["source"] == "compose"


# Imports


def test_a_finished_import_is_one_event_with_counts_by_its_creator(acme):
    sam = acme.user(Role.SENDER)
    text = "phone;unsubscribed\n+77011110001;yes\n+77011110002;no\n+77011110003;\nnope;\n"
    imp = importing.create(acme.workspace, sam, text=text)
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.ADD, None, "Spring fair")
    importing.run(imp.pk)
    imp.refresh_from_db()
    event = only_event(Action.CONTACTS_IMPORTED)
    assert event.actor == sam
    assert event.target == f"contact import {imp.pk}"
    spring = ContactList.objects.get(name="Spring fair")
    assert event.details == {
        "import_id": imp.pk,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "opted_out": 1,
        "list_id": spring.pk,
        "list": "Spring fair",
        "list_action": "add",
        "source": "import",
    }


def test_an_import_cancelled_while_running_writes_nothing(acme):
    imp = importing.create(acme.workspace, acme.user(Role.SENDER), text="phone\n+77011110001\n")
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE)
    ContactImport.objects.filter(pk=imp.pk).update(cancel_requested=True)
    importing.run(imp.pk)
    assert ContactImport.objects.get(pk=imp.pk).status == ImportStatus.CANCELLED
    assert book_events() == []


# The audit page


def test_the_audit_page_reads_the_new_events(as_role, acme):
    client = as_role(Role.SENDER)
    client.post(reverse("contact_opt_out", args=[acme.contact.pk]))
    client.post(reverse("list_rename", args=[acme.contact_list.pk]), {"name": "Buyers"})
    page = as_role(Role.ADMIN).get(reverse("audit_log")).content.decode()
    assert "Numbers opted out" in page and "List renamed" in page
    assert "Customers → Buyers" in page
    assert f"contact {acme.contact.pk}" in page


def test_the_audit_filter_groups_every_action_the_books_in_one_group(as_role, acme):
    groups = dict(action_groups())
    assert sorted(v for actions in groups.values() for v, _ in actions) == sorted(Action.values)
    book = {value for value, _ in groups["Contact book"]}
    templates = {value for value, _ in groups["Message templates"]}
    assert BOOK - book == templates
    page = as_role(Role.ADMIN).get(reverse("audit_log"), {"action": "list_renamed"}).text
    assert '<optgroup label="Contact book">' in page
    assert '<option value="list_renamed" selected>List renamed</option>' in page
