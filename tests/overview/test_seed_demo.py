"""seed_demo: `make run` calls it on every start, so it must build the demo on an empty
database, change nothing the second time, and never log the demo user out."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Campaign, Message, MessageTemplate
from contacts import segments
from contacts.models import Contact, ContactList, Segment
from providers.models import ProviderAccount, Rate, SenderName
from workspaces.models import Membership, Role, Workspace


def seed():
    call_command("seed_demo", "--password", "crier-demo", stdout=io.StringIO())


def snapshot() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Workspace,
            Membership,
            ProviderAccount,
            SenderName,
            Rate,
            Campaign,
            Message,
            Contact,
            ContactList,
            Segment,
            MessageTemplate,
        )
    }


@pytest.mark.django_db
def test_seeding_twice_on_an_empty_database_builds_the_demo_once():
    seed()
    first = snapshot()
    seed()
    assert snapshot() == first

    user = get_user_model().objects.get(username="demo")
    assert user.check_password("crier-demo") and user.is_superuser
    workspace = Workspace.objects.get(name="Demo workspace")
    assert Membership.objects.get(user=user, workspace=workspace).role == Role.OWNER
    accounts = ProviderAccount.objects.filter(workspace=workspace)
    assert sorted(accounts.values_list("provider", flat=True)) == [
        "bsg", "conpeek", "mobizon", "smsdrop",
    ]  # fmt: skip
    for account in accounts:
        approved = account.senders.filter(status=SenderName.Status.APPROVED)
        assert set(approved.values_list("value", flat=True)) == {"Crier", "CrierDemo"}
    assert Campaign.objects.filter(workspace=workspace).count() == 3


@pytest.mark.django_db
def test_the_demo_has_a_contact_book_a_segment_and_templates():
    seed()
    workspace = Workspace.objects.get(name="Demo workspace")
    recipients = set(
        Message.objects.filter(campaign__workspace=workspace).values_list("phone", flat=True)
    )
    assert set(workspace.contacts.values_list("phone", flat=True)) == recipients
    everyone = workspace.contact_lists.get(name="All customers")
    assert everyone.contacts.count() == len(recipients)
    segment = workspace.segments.get()
    gold_in_almaty = segments.members(workspace, segment.conditions)
    assert 0 < gold_in_almaty.count() < len(recipients)
    assert all((c.fields["city"], c.fields["plan"]) == ("Almaty", "Gold") for c in gold_in_almaty)
    assert set(workspace.message_templates.values_list("name", flat=True)) == {
        "Welcome",
        "Appointment reminder",
    }


@pytest.mark.django_db
def test_seeding_again_keeps_the_demo_user_logged_in(client):
    seed()
    client.force_login(get_user_model().objects.get(username="demo"))
    assert client.get(reverse("overview")).status_code == 200
    seed()  # what `make run` does on the next start
    assert client.get(reverse("overview")).status_code == 200


@pytest.mark.django_db
def test_a_new_password_takes_effect(client):
    seed()
    call_command("seed_demo", "--password", "another-pass", stdout=io.StringIO())
    assert get_user_model().objects.get(username="demo").check_password("another-pass")
