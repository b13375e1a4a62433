"""A contact's form: created from a number in any format, then edited with the number fixed;
each custom field typed, and a clear message naming the field for a bad value."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import book
from contacts.forms import ContactForm
from contacts.models import Contact, ContactField, FieldKind
from workspaces.models import Role

NEW = reverse("contact_create")


@pytest.fixture
def typed(acme):
    ws = acme.workspace
    ContactField.objects.create(workspace=ws, key="age", label="Age", kind=FieldKind.NUMBER)
    ContactField.objects.create(workspace=ws, key="joined", label="Joined", kind=FieldKind.DATE)
    ContactField.objects.create(
        workspace=ws, key="tier", label="Tier", kind=FieldKind.CHOICE, choices=["gold", "silver"]
    )


def edit_url(contact) -> str:
    return reverse("contact_edit", args=[contact.pk])


def test_a_national_number_becomes_a_typed_contact(as_role, acme, typed):
    response = as_role(Role.SENDER).post(
        NEW,
        {"phone": "8 701 222 33 44", "name": "Zed", "f_age": "41", "f_joined": "2024-02-29",
         "f_tier": "gold", "f_city": "Oral"},
    )  # fmt: skip
    contact = Contact.objects.get(workspace=acme.workspace, phone="+77012223344")
    assert response.status_code == 302
    assert response.url == reverse("contact_detail", args=[contact.pk])
    # Kazakh mobiles span several zones: the contact keeps the workspace's.
    assert contact.country == "KZ" and contact.time_zone == ""
    assert contact.fields == {"age": 41, "joined": "2024-02-29", "tier": "gold", "city": "Oral"}


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"phone": "hello"}, "Type the whole number"),
        ({"phone": "+7 701 555 01 01"}, "The book has a contact with +77015550101 already."),
        ({"phone": "+77012223344", "f_age": "forty"}, "Age takes a number, such as 42 or 3.5."),
        ({"phone": "+77012223344", "f_joined": "31/12/2024"}, "Joined takes a date as YYYY-MM-DD."),
        ({"phone": "+77012223344", "f_tier": "bronze"}, "Tier: choose one of gold, silver."),
        ({"phone": "+77012223344", "time_zone": "Mars/Olympus"}, "is not a time zone"),
        ({"phone": "+77012223344", "language": "english!"}, "is not a language code"),
    ],
)
def test_bad_input_is_named_and_nothing_is_saved(as_role, acme, typed, post, message):
    before = Contact.objects.count()
    response = as_role(Role.SENDER).post(NEW, post, headers={"HX-Request": "true"})
    assert response.status_code == 200 and message in response.text
    assert Contact.objects.count() == before


def test_editing_keeps_the_number_and_unknown_keys_and_clears_emptied_fields(as_role, acme):
    acme.contact.fields = {"city": "Almaty", "legacy": "kept"}
    acme.contact.save()
    response = as_role(Role.SENDER).post(
        edit_url(acme.contact),
        {"phone": "+79990000000", "name": "Ann B", "f_city": "", "time_zone": ""},
    )
    assert response.status_code == 302
    acme.contact.refresh_from_db()
    assert acme.contact.phone == "+77015550101" and acme.contact.name == "Ann B"
    assert acme.contact.fields == {"legacy": "kept"}


def test_an_emptied_time_zone_is_the_numbers_own_again(as_role, acme):
    berlin = Contact.objects.create(
        workspace=acme.workspace, phone="+4915112345678", time_zone="Asia/Tokyo"
    )
    client = as_role(Role.SENDER)
    assert "the number&#x27;s zone, Europe/Berlin" in client.get(edit_url(berlin)).text
    client.post(edit_url(berlin), {"time_zone": ""})
    berlin.refresh_from_db()
    assert berlin.time_zone == "Europe/Berlin"
    client.post(edit_url(berlin), {"time_zone": "America/Sao_Paulo"})
    berlin.refresh_from_db()
    assert berlin.time_zone == "America/Sao_Paulo"


def test_a_viewer_sees_the_contact_but_cannot_save(as_role, acme):
    client = as_role(Role.VIEWER)
    page = client.get(edit_url(acme.contact))
    assert page.status_code == 200 and "Almaty" in page.text and "<fieldset disabled>" in page.text
    assert client.post(edit_url(acme.contact), {"name": "Hacked"}).status_code == 403
    assert client.get(NEW).status_code == 403
    acme.contact.refresh_from_db()
    assert acme.contact.name == "Ann Lee"


def test_another_workspaces_contact_is_404(as_role, globex):
    assert as_role(Role.OWNER).get(edit_url(globex.contact)).status_code == 404


def test_an_edit_saved_after_an_opt_out_keeps_the_opt_out(acme):
    """The form was loaded before the number was opted out elsewhere (the API, a file):
    saving it writes the form's columns only, never the opt-out it read."""
    contact = Contact.objects.get(pk=acme.contact.pk)
    data = {"name": "Ann Park", "language": "", "time_zone": "", "f_city": "Almaty"}
    form = ContactForm(data, instance=contact, workspace=acme.workspace)
    assert form.is_valid(), form.errors
    book.opt_out(acme.workspace, [contact.phone], actor=None, where="API")
    form.save()
    saved = Contact.objects.get(pk=contact.pk)
    assert saved.name == "Ann Park"
    assert saved.opted_out_at is not None and saved.opt_out_source == "manual"
