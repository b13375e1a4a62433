"""The Webhooks pages: owners and admins manage endpoints; senders and viewers see nothing.
Foreign ids, CSRF and the role matrix are covered for every route by tests/workspaces/
test_isolation.py and tests/security/test_csrf.py."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import Action, AuditEvent
from webhooks.models import Delivery, Endpoint, Event, EventType
from workspaces.models import Role

pytestmark = pytest.mark.django_db

FORM = {
    "url": "https://crm.acme.example/hooks",
    "description": "Our CRM",
    "event_types": ["message.status_changed", "campaign.completed"],
    "enabled": "on",
}


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_senders_and_viewers_cannot_see_the_webhooks_or_their_menu_item(as_role, acme, role):
    client = as_role(role)
    assert client.get(reverse("endpoint_list")).status_code == 403
    detail = reverse("endpoint_detail", args=[acme.endpoint.pk])
    assert client.get(detail).status_code == 403
    assert reverse("endpoint_list") not in client.get(reverse("overview")).text


def test_an_admin_finds_webhooks_in_the_workspace_menu_after_the_settings(as_role):
    page = as_role(Role.ADMIN).get(reverse("overview")).text
    assert page.index(reverse("workspace_settings")) < page.index(reverse("endpoint_list"))


def test_an_admin_adds_an_endpoint_and_it_is_audited(as_role, acme):
    response = as_role(Role.ADMIN).post(reverse("endpoint_add"), FORM)

    endpoint = Endpoint.objects.exclude(pk=acme.endpoint.pk).get()
    assert response.status_code == 302
    assert response.url == reverse("endpoint_detail", args=[endpoint.pk])
    assert endpoint.event_types == FORM["event_types"] and endpoint.enabled
    assert endpoint.secret.startswith("whsec_")
    event = AuditEvent.objects.get(action=Action.WEBHOOK_CREATED)
    assert event.target == f"webhook {FORM['url']}" and event.actor_name == "adam"
    listed = as_role(Role.ADMIN).get(reverse("endpoint_list")).text
    assert FORM["url"] in listed and "Our CRM" in listed


def test_the_detail_page_shows_the_secret_and_the_delivery_log(as_role, acme):
    page = as_role(Role.ADMIN).get(reverse("endpoint_detail", args=[acme.endpoint.pk])).text
    assert acme.endpoint.secret in page
    assert acme.delivery.event.webhook_id in page
    assert reverse("delivery_replay", args=[acme.delivery.pk]) in page


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"url": "http://hooks.acme.example/"}, "url", "Use an https:// address"),
        ({"url": "https://127.0.0.1/x"}, "url", "local or private network address"),
        ({"url": "https://10.1.2.3/x"}, "url", "local or private network address"),
        ({"url": "https://localhost/x"}, "url", "local or private network address"),
        ({"url": "https://me:pw@hooks.acme.example/"}, "url", "without a user name"),
        ({"url": "not a url"}, "url", "Enter a valid URL"),
        ({"event_types": []}, "event_types", "Choose at least one event"),
        ({"event_types": ["campaign.exploded"]}, "event_types", "not one of the available"),
    ],
)
def test_bad_input_is_refused_under_its_field(as_role, acme, change, field, words):
    response = as_role(Role.ADMIN).post(reverse("endpoint_add"), FORM | change)

    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors[field])
    assert Endpoint.objects.filter(workspace=acme.workspace).count() == 1


def test_an_edit_is_audited_field_by_field_and_re_enabling_starts_afresh(as_role, acme):
    endpoint = acme.endpoint
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="failing")

    as_role(Role.ADMIN).post(reverse("endpoint_edit", args=[endpoint.pk]), FORM)

    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    details = AuditEvent.objects.get(action=Action.WEBHOOK_CHANGED).details
    assert details["enabled"] == {"old": False, "new": True}
    assert details["url"]["new"] == FORM["url"]


def test_rotate_test_replay_and_delete(as_role, acme):
    client, endpoint = as_role(Role.OWNER), acme.endpoint
    secret = endpoint.secret

    client.post(reverse("endpoint_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != secret and endpoint.previous_secret == secret

    client.post(reverse("endpoint_test", args=[endpoint.pk]))
    test_event = Event.objects.get(type=EventType.TEST)
    assert test_event.endpoint == endpoint

    client.post(reverse("delivery_replay", args=[acme.delivery.pk]))
    again = Delivery.objects.exclude(pk=acme.delivery.pk).get()
    assert (again.event, again.status) == (acme.delivery.event, "pending")

    client.post(reverse("endpoint_delete", args=[endpoint.pk]))
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        Action.WEBHOOK_SECRET_ROTATED,
        Action.WEBHOOK_TESTED,
        Action.WEBHOOK_REPLAYED,
        Action.WEBHOOK_DELETED,
    } <= actions


def test_the_log_filters_by_status_and_event_type(as_role, acme):
    url = reverse("endpoint_detail", args=[acme.endpoint.pk])
    client = as_role(Role.ADMIN)
    assert client.get(url, {"status": "failed"}).context["deliveries"] == []
    assert len(client.get(url, {"status": "delivered"}).context["deliveries"]) == 1
    assert client.get(url, {"type": "campaign.paused"}).context["deliveries"] == []
    htmx = client.get(url, {"type": "campaign.completed"}, headers={"HX-Request": "true"})
    assert 'id="log"' in htmx.text and "<html" not in htmx.text
    assert client.get(url, {"status": "nonsense", "before": "x²"}).status_code == 200
