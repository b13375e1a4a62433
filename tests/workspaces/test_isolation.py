"""Tenant isolation and roles, generated from the URL patterns.

Every route is found by walking the URL resolver (tests/routes.py), so a new route is covered
without editing this file: its HTMX partials, exports and polling endpoints included. A route
whose URL carries an object id needs a factory in tests/routes.py::OBJECT_FACTORIES.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.routes import OBJECT_FACTORIES, dashboard_routes, url_for
from workspaces.models import Membership, Role, Workspace

# Routes any member may POST to, because they change only the user's own state.
VIEWER_MAY_POST = {"switch_workspace", "workspace_create"}

ROUTES = dashboard_routes()
OBJECT_ROUTES = [(name, kwargs) for name, kwargs in ROUTES if kwargs]


def test_the_walk_finds_the_routes():
    names = {name for name, _ in ROUTES}
    assert {"overview", "account_edit", "sender_edit", "member_remove", "audit_log"} <= names
    # HTMX partials and polling endpoints, and exports, are routes like any other.
    assert {"campaign_count", "import_progress", "import_rejections"} <= names
    assert len(OBJECT_ROUTES) >= 7


def test_every_object_kwarg_has_a_factory():
    missing = {k for _, kwargs in OBJECT_ROUTES for k in kwargs} - OBJECT_FACTORIES.keys()
    assert not missing, f"add a factory to OBJECT_FACTORIES for: {sorted(missing)}"


def snapshot():
    """Every row of every model of ours, to prove a refused request changed nothing."""
    return [
        list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label in {"dashboard", "providers", "campaigns", "audit", "webhooks"}
    ]


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("name", "kwargs"), OBJECT_ROUTES, ids=[n for n, _ in OBJECT_ROUTES])
def test_foreign_object_is_404_for_every_role(client, acme, globex, name, kwargs, role):
    client.force_login(acme.user(role))
    url = url_for(name, kwargs, globex)
    before = snapshot()
    statuses = {
        client.get(url).status_code,
        client.get(url, headers={"HX-Request": "true"}).status_code,
        client.post(url, {"role": "viewer", "value": "X", "name": "X"}).status_code,
        client.post(url, headers={"HX-Request": "true"}).status_code,
    }
    # 405 says only which methods the route takes, nothing about the object.
    assert statuses <= {404, 405}
    assert 404 in statuses
    assert snapshot() == before


@pytest.mark.parametrize(("name", "kwargs"), OBJECT_ROUTES, ids=[n for n, _ in OBJECT_ROUTES])
def test_own_object_is_reachable(client, acme, name, kwargs):
    """The 404s above come from the scoping, not from a broken route."""
    client.force_login(acme.user(Role.OWNER))
    response = client.get(url_for(name, kwargs, acme))
    assert response.status_code in {200, 405}


MUTATING = [(name, kwargs) for name, kwargs in ROUTES if name not in VIEWER_MAY_POST]


@pytest.mark.parametrize(("name", "kwargs"), MUTATING, ids=[n for n, _ in MUTATING])
def test_viewer_cannot_change_anything(client, acme, name, kwargs):
    client.force_login(acme.user(Role.VIEWER))
    url = url_for(name, kwargs, acme)
    before = snapshot()
    payload = {
        "role": "owner",
        "name": "Hijacked",
        "value": "Hijack",
        "provider": "bsg",
        "cred_api_key": "live_x",
        "currency": "USD",
        "identifier": "mallory@example.com",
        "account": acme.account.pk,
        "kind": "alphanumeric",
        "status": "approved",
        "default_country": "KZ",
        "time_zone": "UTC",
    }
    assert client.post(url, payload).status_code in {403, 405}
    assert snapshot() == before


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=[n for n, _ in ROUTES])
def test_admin_can_neither_delete_the_workspace_nor_unseat_its_last_owner(acme, name, kwargs):
    """Only an owner deletes a workspace or changes an owner; Acme has one owner, olivia.

    ``member_pk`` routes are given olivia's membership, so this also tries to demote and
    remove the last owner through every route that takes a member.
    """
    client = Client(raise_request_exception=False)
    client.force_login(acme.user(Role.ADMIN))
    url = url_for(name, kwargs, acme)
    owner = acme.members[Role.OWNER]
    for headers in [{}, {"HX-Request": "true"}]:
        client.post(url, {"role": Role.VIEWER, "confirm": "yes", "name": "Gone"}, headers=headers)
        client.delete(url, headers=headers)
    assert Workspace.objects.filter(pk=acme.workspace.pk).exists()
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


# Accounts, sender names (and their approval status), rates, members, workspace settings,
# webhook endpoints and their deliveries.
ADMIN_AREAS = ("account_", "sender_", "rate_", "member", "workspace_settings", "audit_")
ADMIN_AREAS += ("endpoint_", "delivery_")
ADMIN_ROUTES = [(name, kwargs) for name, kwargs in ROUTES if name.startswith(ADMIN_AREAS)]


@pytest.mark.parametrize(("name", "kwargs"), ADMIN_ROUTES, ids=[n for n, _ in ADMIN_ROUTES])
def test_sender_cannot_change_accounts_senders_or_members(client, acme, name, kwargs):
    client.force_login(acme.user(Role.SENDER))
    url = url_for(name, kwargs, acme)
    before = snapshot()
    payload = {
        "role": "admin",
        "identifier": "sam",
        "account": acme.account.pk,
        "value": acme.sender.value,
        "kind": "alphanumeric",
        "status": "rejected",  # acme's sender name is approved: any change would show
        "name": "Mine now",
        "cred_api_key": "live_x",
        "currency": "USD",
    }
    assert client.post(url, payload).status_code in {403, 405}
    assert client.post(url, payload, headers={"HX-Request": "true"}).status_code in {403, 405}
    assert snapshot() == before


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_sender_and_viewer_cannot_manage_accounts_senders_or_members(client, acme, role):
    client.force_login(acme.user(role))
    for url in [
        reverse("account_add"),
        reverse("account_edit", args=[acme.account.pk]),
        reverse("sender_add"),
        reverse("sender_edit", args=[acme.sender.pk]),
        reverse("member_invite"),
        reverse("workspace_settings"),
        reverse("endpoint_list"),
        reverse("endpoint_add"),
        reverse("endpoint_detail", args=[acme.endpoint.pk]),
        reverse("endpoint_edit", args=[acme.endpoint.pk]),
    ]:
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_login_everywhere(client, acme):
    for name, kwargs in ROUTES:
        response = client.get(url_for(name, kwargs, acme))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("login")), name
