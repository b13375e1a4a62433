"""Sensitive actions in the dashboard leave an audit event, and no event holds a secret."""

from __future__ import annotations

import json

from django.urls import reverse

from audit.models import Action, AuditEvent
from providers.models import ProviderAccount
from workspaces.models import Membership, Role

SECRET = "live_Audit_TOPSECRET_7731"


def only_event():
    (event,) = AuditEvent.objects.all()
    return event


def assert_no_secret_anywhere():
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert SECRET not in dump
    assert SECRET[-8:] not in dump


def test_adding_an_account_is_recorded_without_the_key(as_role, acme):
    client = as_role(Role.ADMIN)
    data = {"provider": "bsg", "name": "Main BSG", "cred_api_key": SECRET, "currency": "EUR"}
    client.post(reverse("account_add"), data)
    event = only_event()
    assert event.action == Action.ACCOUNT_CREATED
    assert (event.workspace, event.actor_name) == (acme.workspace, "adam")
    assert event.target == "account Main BSG"
    assert event.details["provider"] == "bsg"
    assert event.details["fields"] == ["api_key"]
    assert_no_secret_anywhere()


def test_a_new_key_is_recorded_by_name_only(as_role, acme):
    as_role(Role.ADMIN).post(
        reverse("account_edit", args=[acme.account.pk]),
        {"name": acme.account.name, "cred_api_key": SECRET, "currency": "USD"},
    )
    assert ProviderAccount.objects.get(pk=acme.account.pk).credentials["api_key"] == SECRET
    event = only_event()
    assert event.action == Action.CREDENTIALS_CHANGED
    assert event.details == {"fields": ["api_key"]}
    assert_no_secret_anywhere()


def test_a_new_api_host_is_recorded_because_the_key_goes_there(as_role, acme, settings):
    settings.CRIER_PROVIDER_HOSTS = ["relay.example"]  # a host the operator allows (#15)
    as_role(Role.ADMIN).post(
        reverse("account_edit", args=[acme.account.pk]),
        {"name": acme.account.name, "api_base_url": "https://relay.example", "currency": "USD"},
    )
    event = only_event()
    assert event.action == Action.CREDENTIALS_CHANGED
    assert event.details == {
        "fields": [],
        "api_base_url": {"old": "", "new": "https://relay.example"},
    }


def test_renaming_an_account_is_not_a_credential_change(as_role, acme):
    as_role(Role.ADMIN).post(
        reverse("account_edit", args=[acme.account.pk]),
        {"name": "Renamed", "cred_api_key": "", "currency": "USD"},
    )
    assert ProviderAccount.objects.get(pk=acme.account.pk).name == "Renamed"
    assert not AuditEvent.objects.exists()


def test_inviting_a_member_is_recorded_without_the_link(as_role, acme, mailoutbox):
    as_role(Role.ADMIN).post(
        reverse("member_invite"), {"email": "newbie@example.com", "role": Role.VIEWER}
    )
    event = only_event()
    assert event.action == Action.MEMBER_INVITED
    assert event.target == "invitation to newbie@example.com"
    assert (event.details["email"], event.details["role"]) == ("newbie@example.com", "viewer")
    # The link's token goes to the address only, never into the log.
    token = mailoutbox[0].body.split("/invitations/")[1].split("/")[0]
    assert token not in json.dumps(event.details, default=str)


def test_changing_a_role_is_recorded_with_old_and_new(as_role, acme):
    as_role(Role.ADMIN).post(
        reverse("member_role", args=[acme.members[Role.SENDER].pk]), {"role": Role.VIEWER}
    )
    event = only_event()
    assert event.action == Action.MEMBER_ROLE_CHANGED
    assert (event.actor_name, event.target) == ("adam", "member sam")
    assert event.details == {"old_role": "sender", "new_role": "viewer"}


def test_choosing_the_same_role_records_nothing(as_role, acme):
    as_role(Role.ADMIN).post(
        reverse("member_role", args=[acme.members[Role.SENDER].pk]), {"role": Role.SENDER}
    )
    assert not AuditEvent.objects.exists()


def test_removing_a_member_is_recorded(as_role, acme):
    as_role(Role.ADMIN).post(reverse("member_remove", args=[acme.members[Role.VIEWER].pk]))
    assert not Membership.objects.filter(pk=acme.members[Role.VIEWER].pk).exists()
    event = only_event()
    assert event.action == Action.MEMBER_REMOVED
    assert (event.actor_name, event.target, event.details) == (
        "adam",
        "member vera",
        {"role": "viewer"},
    )


def test_a_refused_change_records_nothing(as_role, acme):
    client = as_role(Role.ADMIN)
    client.post(reverse("member_remove", args=[acme.members[Role.OWNER].pk]))
    client.post(reverse("member_role", args=[acme.members[Role.OWNER].pk]), {"role": "viewer"})
    assert not AuditEvent.objects.exists()
