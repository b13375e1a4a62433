"""The lists page: member counts; senders create and rename lists, admins delete them."""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from campaigns.models import Campaign
from contacts import search
from contacts.models import Contact, ContactList, ListMember
from contacts.pages import lists as lists_page
from workspaces.models import Role

URL = reverse("list_index")


def test_each_list_shows_its_own_member_count(as_role, acme, globex):
    empty = ContactList.objects.create(workspace=acme.workspace, name="Empty")
    bob = Contact.objects.create(workspace=acme.workspace, phone="+77027770000")
    ListMember.objects.create(contact_list=acme.contact_list, contact=bob)
    response = as_role(Role.VIEWER).get(URL)
    counts = {row.name: row.members for row in response.context["lists"]}
    assert counts == {"Customers": "2", "Empty": "0"}
    assert empty.name in response.text and globex.contact_list.pk not in [
        row.pk for row in response.context["lists"]
    ]
    assert f"{reverse('contact_list')}?list={acme.contact_list.pk}" in response.text


def test_a_big_list_is_counted_up_to_the_cap_then_estimated(as_role, acme, monkeypatch):
    monkeypatch.setattr(lists_page, "LIST_COUNT_CAP", 1)
    ListMember.objects.create(
        contact_list=acme.contact_list,
        contact=Contact.objects.create(workspace=acme.workspace, phone="+77027770000"),
    )
    monkeypatch.setattr(search, "estimated", lambda queryset: 2_345_678)
    assert lists_page.member_count(acme.contact_list) == "≈ 2,345,678"
    # Statistics that lag behind the list: no estimate below what was counted.
    monkeypatch.setattr(search, "estimated", lambda queryset: 1)
    assert lists_page.member_count(acme.contact_list) == "1+"


def test_a_sender_creates_a_list(as_role, acme):
    response = as_role(Role.SENDER).post(URL, {"name": "  Spring leads "})
    assert response.status_code == 302
    assert ContactList.objects.filter(workspace=acme.workspace, name="Spring leads").exists()


def test_a_duplicate_name_is_refused_in_any_case(as_role, acme):
    response = as_role(Role.SENDER).post(URL, {"name": "customers"}, headers={"HX-Request": "true"})
    assert "The workspace has a list named “customers” already." in response.text
    assert ContactList.objects.filter(workspace=acme.workspace).count() == 1


def test_the_same_name_in_another_workspace_is_fine(as_role, acme, globex):
    assert as_role(Role.SENDER).post(URL, {"name": "Customers 2"}).status_code == 302
    ContactList.objects.create(workspace=globex.workspace, name="Customers 2")


def test_a_viewer_cannot_create(as_role, acme):
    assert as_role(Role.VIEWER).post(URL, {"name": "Mine"}).status_code == 403
    assert not ContactList.objects.filter(name="Mine").exists()


def test_a_sender_renames_and_a_clash_is_named(as_role, acme):
    ContactList.objects.create(workspace=acme.workspace, name="VIP")
    url = reverse("list_rename", args=[acme.contact_list.pk])
    client = as_role(Role.SENDER)
    clash = client.post(url, {"name": "VIP"}, headers={"HX-Request": "true"})
    assert "a list named “VIP” already" in clash.text
    assert client.post(url, {"name": "Buyers"}).status_code == 302
    acme.contact_list.refresh_from_db()
    assert acme.contact_list.name == "Buyers"


def test_only_an_admin_deletes_and_contacts_stay(as_role, acme):
    url = reverse("list_delete", args=[acme.contact_list.pk])
    assert as_role(Role.SENDER).post(url).status_code == 403
    response = as_role(Role.ADMIN).post(url, follow=True)
    assert "Deleted the list Customers; its contacts stay in the book." in response.text
    assert not ContactList.objects.filter(pk=acme.contact_list.pk).exists()
    assert Contact.objects.filter(pk=acme.contact.pk).exists()


def test_a_list_a_draft_draws_on_is_kept(as_role, acme):
    draft = Campaign.objects.get(pk=acme.campaign.pk)
    draft.exclusion_lists.add(acme.contact_list)
    url = reverse("list_delete", args=[acme.contact_list.pk])
    response = as_role(Role.ADMIN).post(url, follow=True)
    assert "Acme spring sale" in response.text
    assert ContactList.objects.filter(pk=acme.contact_list.pk).exists()


def test_the_database_estimates_a_lists_size_without_counting_it(acme):
    members = ListMember.objects.filter(contact_list=acme.contact_list)
    if connection.vendor == "postgresql":
        assert search.estimated(members) >= 1  # never zero: the planner's floor is one row
    else:
        assert search.estimated(members) is None  # SQLite keeps no such statistics
