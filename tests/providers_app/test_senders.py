from __future__ import annotations

import pytest
from django.urls import reverse

from providers.models import SenderName
from workspaces.models import Role


def post_sender(client, account, value, kind="alphanumeric", **extra):
    data = {"account": account.pk, "value": value, "kind": kind, "status": "pending"}
    return client.post(reverse("sender_add"), data | extra, headers={"HX-Request": "true"})


def test_admin_adds_a_sender_name(as_role, acme):
    response = post_sender(as_role(Role.ADMIN), acme.account, "AcmeShop")
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == reverse("sender_list")
    assert SenderName.objects.get(value="AcmeShop").status == "pending"


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("AcmeShopping", "alphanumeric", "at most 11 characters; “AcmeShopping” has 12"),
        ("Acme!", "alphanumeric", "Latin letters, digits, spaces and . - _ &amp; only"),
        ("12345", "alphanumeric", "digits only is numeric"),
        ("1234567890123456", "numeric", "at most 15 digits; this has 16"),
        ("12ab", "numeric", "only digits (and a leading +)"),
    ],
)
def test_broken_rules_are_named(as_role, acme, value, kind, message):
    response = post_sender(as_role(Role.ADMIN), acme.account, value, kind)
    assert message in response.text
    assert not SenderName.objects.filter(value=value).exists()


def test_the_same_name_twice_on_one_account_is_refused(as_role, acme):
    response = post_sender(as_role(Role.ADMIN), acme.account, acme.sender.value)
    assert "already registered on this account" in response.text


def test_a_foreign_account_cannot_be_chosen(as_role, globex):
    response = post_sender(as_role(Role.ADMIN), globex.account, "Sneaky")
    assert "Select a valid choice" in response.text
    assert not SenderName.objects.filter(value="Sneaky").exists()


def test_sender_list_filters_by_status(as_role, acme):
    SenderName.objects.create(account=acme.account, value="Waiting", status="pending")
    response = as_role(Role.VIEWER).get(
        reverse("sender_list"), {"status": "pending"}, headers={"HX-Request": "true"}
    )
    assert "Waiting" in response.text
    assert acme.sender.value not in response.text


def test_admin_edits_and_deletes_a_sender(as_role, acme):
    client = as_role(Role.ADMIN)
    client.post(
        reverse("sender_edit", args=[acme.sender.pk]),
        {
            "account": acme.account.pk,
            "value": "AcmeNews",
            "kind": "alphanumeric",
            "status": "rejected",
            "note": "Brand not proven",
        },
    )
    acme.sender.refresh_from_db()
    assert (acme.sender.value, acme.sender.status) == ("AcmeNews", "rejected")
    client.post(reverse("sender_delete", args=[acme.sender.pk]))
    assert not SenderName.objects.filter(pk=acme.sender.pk).exists()
