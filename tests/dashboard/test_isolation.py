"""Tenant isolation and roles, generated from the URL patterns.

Every route is found by walking the URL resolver, so a new route is covered without editing
this file. A route whose URL carries an object id needs a factory for that kwarg below; a new
kwarg name fails ``test_every_object_kwarg_has_a_factory`` until one is added.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dashboard.models import Role

# kwarg name -> how to get an object of a tenant for it.
OBJECT_FACTORIES = {
    "account_pk": lambda tenant: tenant.account.pk,
    "sender_pk": lambda tenant: tenant.sender.pk,
    "member_pk": lambda tenant: tenant.members[Role.OWNER].pk,
    "campaign_pk": lambda tenant: tenant.campaign.pk,
    "import_pk": lambda tenant: tenant.recipient_import.pk,
    "entry_pk": lambda tenant: tenant.stop_entry.pk,
    "rate_pk": lambda tenant: tenant.rate.pk,
}

# Routes outside the dashboard's tenancy: the admin (staff only), the provider sandbox (an API
# emulator with its own authentication), authentication itself.
EXEMPT_PREFIXES = ("admin", "sandbox")
EXEMPT_NAMES = {"login", "logout", "password_change", "password_change_done"}

# Routes any member may POST to, because they change only the user's own state.
VIEWER_MAY_POST = {"switch_workspace", "workspace_create"}


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name, namespace, p


def dashboard_routes():
    routes = []
    for route, name, namespace, pattern in _walk(get_resolver().url_patterns):
        if namespace or route.startswith(EXEMPT_PREFIXES) or name in EXEMPT_NAMES:
            continue
        routes.append((name, sorted(pattern.pattern.converters)))
    return routes


ROUTES = dashboard_routes()
OBJECT_ROUTES = [(name, kwargs) for name, kwargs in ROUTES if kwargs]


def url_for(name, kwargs, tenant):
    return reverse(name, kwargs={k: OBJECT_FACTORIES[k](tenant) for k in kwargs})


def test_the_walk_finds_the_routes():
    names = {name for name, _ in ROUTES}
    assert {"overview", "account_edit", "sender_edit", "member_remove"} <= names
    assert len(OBJECT_ROUTES) >= 7


def test_every_object_kwarg_has_a_factory():
    missing = {k for _, kwargs in OBJECT_ROUTES for k in kwargs} - OBJECT_FACTORIES.keys()
    assert not missing, f"add a factory to OBJECT_FACTORIES for: {sorted(missing)}"


def snapshot():
    """Every row of every model of ours, to prove a refused request changed nothing."""
    return [
        list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label in {"dashboard", "providers", "campaigns"}
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


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_sender_and_viewer_cannot_manage_accounts_senders_or_members(client, acme, role):
    client.force_login(acme.user(role))
    for url in [
        reverse("account_add"),
        reverse("account_edit", args=[acme.account.pk]),
        reverse("sender_add"),
        reverse("sender_edit", args=[acme.sender.pk]),
        reverse("member_add"),
        reverse("workspace_settings"),
    ]:
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_login_everywhere(client, acme):
    for name, kwargs in ROUTES:
        response = client.get(url_for(name, kwargs, acme))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("login")), name
