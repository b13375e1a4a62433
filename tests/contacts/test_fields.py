"""The custom fields page: define typed fields; a kind or choice change never strands the
values contacts hold; a cap on how many; deleting one forgets its values."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import fields as custom
from contacts.models import Contact, ContactField, FieldKind
from workspaces.models import Role

URL = reverse("field_list")
NEW = reverse("field_create")


def edit(field) -> str:
    return reverse("field_edit", args=[field.pk])


def test_everyone_sees_the_fields_with_their_placeholders(as_role, acme):
    response = as_role(Role.VIEWER).get(URL)
    assert "{city}" in response.text and "City" in response.text
    assert reverse("field_create") not in response.text


def test_a_sender_creates_a_choice_field(as_role, acme):
    response = as_role(Role.SENDER).post(
        NEW,
        {"label": "Tier", "key": "tier", "kind": "choice", "choices_text": "gold\n silver\ngold\n"},
    )
    assert response.status_code == 302
    tier = ContactField.objects.get(workspace=acme.workspace, key="tier")
    assert tier.kind == FieldKind.CHOICE and tier.choices == ["gold", "silver"]


@pytest.mark.parametrize(
    ("post", "message"),
    [
        (
            {"label": "City 2", "key": "city", "kind": "text"},
            "The workspace has a field {city} already.",
        ),
        ({"label": "Name", "key": "name", "kind": "text"}, "{name} is the contact&#x27;s own name"),
        ({"label": "Bad", "key": "has space", "kind": "text"}, "Enter a valid “slug”"),
        ({"label": "Tier", "key": "tier", "kind": "choice"}, "A choice field needs its choices"),
        ({"label": "X", "key": "x", "kind": "colour"}, "Select a valid choice."),
    ],
)
def test_bad_definitions_are_named(as_role, acme, post, message):
    response = as_role(Role.SENDER).post(NEW, post, headers={"HX-Request": "true"})
    assert message in response.text
    assert ContactField.objects.filter(workspace=acme.workspace).count() == 1


def test_the_cap_on_fields_is_explained(as_role, acme, monkeypatch):
    monkeypatch.setattr(custom, "MAX_FIELDS", 1)
    response = as_role(Role.SENDER).post(NEW, {"label": "Age", "key": "age", "kind": "number"})
    assert "A workspace has at most 1 fields; delete one you no longer use first." in response.text


def test_a_kind_cannot_change_while_contacts_hold_values(as_role, acme):
    response = as_role(Role.SENDER).post(
        edit(acme.contact_field), {"label": "City", "key": "ignored", "kind": "number"}
    )
    assert "1 contact holds a value for City: its kind can change only while none does." in (
        response.text
    )
    acme.contact_field.refresh_from_db()
    assert acme.contact_field.kind == FieldKind.TEXT and acme.contact_field.key == "city"


def test_a_kind_changes_when_nobody_holds_a_value(as_role, acme):
    acme.contact.fields = {}
    acme.contact.save()
    client = as_role(Role.SENDER)
    post = {"label": "Town", "key": "ignored", "kind": "choice", "choices_text": "Almaty"}
    assert client.post(edit(acme.contact_field), post).status_code == 302
    acme.contact_field.refresh_from_db()
    assert acme.contact_field.key == "city" and acme.contact_field.label == "Town"
    assert acme.contact_field.choices == ["Almaty"]


def test_a_choice_in_use_cannot_be_removed(as_role, acme):
    field = acme.contact_field
    field.kind, field.choices = FieldKind.CHOICE, ["Almaty", "Astana"]
    field.save()
    client = as_role(Role.SENDER)
    held = client.post(edit(field), {"label": "City", "kind": "choice", "choices_text": "Astana"})
    assert "1 contact holds “Almaty”: keep it among the choices." in held.text
    unused = {"label": "City", "kind": "choice", "choices_text": "Almaty\nOral"}
    assert client.post(edit(field), unused).status_code == 302
    field.refresh_from_db()
    assert field.choices == ["Almaty", "Oral"]


def test_only_an_admin_deletes_and_the_values_go_with_it(as_role, acme, globex):
    url = reverse("field_delete", args=[acme.contact_field.pk])
    assert as_role(Role.SENDER).post(url).status_code == 403
    response = as_role(Role.ADMIN).post(url, follow=True)
    assert "Deleted the field City and the 1 value contacts held for it." in response.text
    assert Contact.objects.get(pk=acme.contact.pk).fields == {}
    assert Contact.objects.get(pk=globex.contact.pk).fields == {"city": "Almaty"}


def test_a_viewer_changes_nothing(as_role, acme):
    client = as_role(Role.VIEWER)
    assert client.get(NEW).status_code == 403
    assert client.post(edit(acme.contact_field), {"label": "X", "kind": "text"}).status_code == 403
