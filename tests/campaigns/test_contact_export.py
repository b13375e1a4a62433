from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from contacts import book
from core.statuses import MessageStatus
from tests.campaigns.history_kit import DELIVERED, campaign_with
from workspaces.models import Role


def export(client, contact):
    return client.get(reverse("contact_export", args=[contact.pk]))


def test_an_admin_downloads_everything_held_about_the_contact_as_json(as_role, acme, globex):
    phone = acme.contact.phone
    book.opt_out(acme.workspace, [phone], note="asked by phone", actor=None, where="page")
    campaign_with(acme, "Spring", {phone: DELIVERED, "+77010000001": DELIVERED})
    campaign_with(globex, "Globex news", {phone: DELIVERED})

    response = export(as_role(Role.ADMIN), acme.contact)

    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="contact-77015550101.json"'
    data = json.loads(response.content)
    assert data["contact"]["phone"] == phone and data["contact"]["name"] == "Ann Lee"
    assert data["fields"] == [{"key": "city", "label": "City", "value": "Almaty"}]
    assert [item["name"] for item in data["lists"]] == ["Customers"]
    assert data["opt_out"]["opted_out"] is True
    assert (data["opt_out"]["how"], data["opt_out"]["note"]) == ("By a member", "asked by phone")
    [message] = data["messages"]
    assert (message["campaign"], message["status"], message["text"]) == (
        "Spring",
        MessageStatus.DELIVERED,
        "Hi Ann",
    )
    assert (message["estimated_price"], message["currency"]) == ("0.0350", "USD")


def test_times_are_in_the_workspaces_zone(as_role, acme):
    acme.workspace.time_zone = "Asia/Almaty"
    acme.workspace.save()

    data = json.loads(export(as_role(Role.ADMIN), acme.contact).content)

    offset = timezone.localtime(acme.contact.created_at, acme.workspace.zone).strftime("%z")
    assert data["contact"]["created_at"].replace(":", "").endswith(offset)


def test_the_export_is_audited(as_role, acme):
    campaign_with(acme, "Spring", {acme.contact.phone: DELIVERED})

    export(as_role(Role.OWNER), acme.contact)

    event = AuditEvent.objects.get(action=Action.CONTACT_EXPORTED)
    assert event.actor_name == "olivia"
    assert event.details == {"contact_id": acme.contact.pk, "messages": 1}


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_only_admins_export(as_role, acme, role):
    response = export(as_role(role), acme.contact)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=Action.CONTACT_EXPORTED).exists()
