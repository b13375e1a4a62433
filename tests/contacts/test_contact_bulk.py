"""Bulk actions on the contacts page: add the ticked (or every matching) contact to a list,
remove them from one, opt them out. Senders and above only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import Contact, ContactList, ListMember, OptOutSource
from workspaces.models import Role

URL = reverse("contact_bulk")


@pytest.fixture
def kz(acme):
    """Five more Kazakh contacts and an empty list "Later"."""
    Contact.objects.bulk_create(
        Contact(workspace=acme.workspace, phone=f"+7702000000{n}", country="KZ") for n in range(5)
    )
    return ContactList.objects.create(workspace=acme.workspace, name="Later")


def members(contact_list) -> set[str]:
    return set(contact_list.contacts.values_list("phone", flat=True))


def test_ticked_contacts_join_a_list(as_role, acme, kz):
    ids = list(Contact.objects.filter(phone__startswith="+770200000").values_list("pk", flat=True))
    response = as_role(Role.SENDER).post(
        URL, {"action": "add", "target": kz.pk, "contact": ids[:2]}, follow=True
    )
    assert members(kz) == {"+77020000000", "+77020000001"}
    assert "Added 2 contacts to Later." in response.text


def test_all_matching_the_filter_join_once_and_the_page_keeps_its_filter(as_role, acme, kz):
    ListMember.objects.create(contact_list=kz, contact=acme.contact)
    client = as_role(Role.SENDER)
    query = "country=KZ&opted=in"
    post = {"action": "add", "target": kz.pk, "scope": "all", "country": "KZ", "opted": "in"}
    response = client.post(URL, {**post, "query": query})
    assert response.status_code == 302 and response.url.endswith("?" + query)
    # Ann was a member already: only the five are new; the opted-out number is filtered out.
    assert members(kz) == {"+77015550101"} | {f"+7702000000{n}" for n in range(5)}
    follow = client.get(response.url)
    assert "Added 5 contacts to Later." in follow.text


def test_remove_takes_only_the_chosen_out_of_the_list(as_role, acme):
    response = as_role(Role.SENDER).post(
        URL,
        {"action": "remove", "target": acme.contact_list.pk, "contact": [acme.contact.pk]},
        follow=True,
    )
    assert members(acme.contact_list) == set()
    assert Contact.objects.filter(pk=acme.contact.pk).exists()
    assert "Removed 1 contact from Customers." in response.text


def test_opt_out_marks_them_manual(as_role, acme):
    as_role(Role.SENDER).post(URL, {"action": "opt_out", "contact": [acme.contact.pk]})
    acme.contact.refresh_from_db()
    assert acme.contact.opted_out and acme.contact.opt_out_source == OptOutSource.MANUAL


def test_another_workspaces_contacts_and_lists_are_untouched(as_role, acme, globex):
    client = as_role(Role.SENDER)
    client.post(URL, {"action": "opt_out", "contact": [globex.contact.pk]})
    client.post(URL, {"action": "add", "target": globex.contact_list.pk, "scope": "all"})
    globex.contact.refresh_from_db()
    assert not globex.contact.opted_out
    assert members(globex.contact_list) == {"+77015550101"}
    assert globex.contact_list.memberships.count() == 1


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"action": "add"}, "Choose the list to add the contacts to or remove them from."),
        ({"action": "burn"}, "Choose what to do with the contacts."),
        ({"action": "opt_out"}, "Tick the contacts to change, or choose all that match."),
        ({"action": "opt_out", "contact": ["x", "²"]}, "Tick the contacts to change"),
    ],
)
def test_incomplete_choices_are_explained(as_role, acme, post, message):
    response = as_role(Role.SENDER).post(URL, post, follow=True)
    assert message in response.text
    assert not Contact.objects.filter(workspace=acme.workspace, pk=acme.contact.pk).get().opted_out


def test_all_matching_a_filter_that_cannot_apply_changes_nobody(as_role, acme):
    post = {"action": "opt_out", "scope": "all", "field": "shoe", "value": "9"}
    response = as_role(Role.SENDER).post(URL, post, follow=True)
    assert "Field: choose one of the workspace" in response.text
    assert "Nothing was changed." in response.text
    acme.contact.refresh_from_db()
    assert not acme.contact.opted_out


def test_a_viewer_cannot_act(as_role, acme):
    response = as_role(Role.VIEWER).post(URL, {"action": "opt_out", "contact": [acme.contact.pk]})
    assert response.status_code == 403
    acme.contact.refresh_from_db()
    assert not acme.contact.opted_out
