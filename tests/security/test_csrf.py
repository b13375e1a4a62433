"""CSRF on every route, generated from the URL resolver like the isolation matrix.

A POST without a token, or with a wrong one, is refused before any view runs, whether it comes
as a plain form or as an HTMX request; the sandbox is the one place allowed to be csrf_exempt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.test import Client
from django.urls import reverse

from tests.packages import our_modules
from tests.routes import dashboard_routes, url_for, walk
from tests.workspaces.test_isolation import snapshot
from workspaces.models import Membership, Role

ROUTES = dashboard_routes(include_auth=True)
ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def csrf_client(acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme.user(Role.OWNER))
    return client


def with_csrf_cookie(client) -> None:
    """Gives the client a CSRF cookie, as a browser that has seen a page would have."""
    client.cookies[settings.CSRF_COOKIE_NAME] = _get_new_csrf_string()


def assert_csrf_refused(response):
    assert response.status_code == 403
    assert "CSRF verification failed" in response.text


PAYLOAD = {"name": "Forged", "role": Role.VIEWER, "workspace": "1", "value": "X"}


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=[n for n, _ in ROUTES])
def test_a_post_without_a_token_is_refused(csrf_client, acme, name, kwargs):
    url = url_for(name, kwargs, acme)
    with_csrf_cookie(csrf_client)
    before = snapshot()
    assert_csrf_refused(csrf_client.post(url, PAYLOAD))
    assert_csrf_refused(csrf_client.post(url, PAYLOAD, headers={"HX-Request": "true"}))
    assert snapshot() == before


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=[n for n, _ in ROUTES])
def test_a_post_with_a_wrong_token_is_refused(csrf_client, acme, name, kwargs):
    url = url_for(name, kwargs, acme)
    with_csrf_cookie(csrf_client)
    wrong = _mask_cipher_secret(_get_new_csrf_string())  # well-formed, of another secret
    before = snapshot()
    assert_csrf_refused(csrf_client.post(url, PAYLOAD | {"csrfmiddlewaretoken": wrong}))
    assert_csrf_refused(
        csrf_client.post(url, PAYLOAD, headers={"HX-Request": "true", "X-CSRFToken": wrong})
    )
    assert_csrf_refused(csrf_client.post(url, PAYLOAD | {"csrfmiddlewaretoken": "x" * 64}))
    assert snapshot() == before


def test_the_right_token_from_hx_headers_is_accepted(csrf_client, acme, globex):
    """The control: the same client gets through with the token the page gives htmx."""
    Membership.objects.create(user=acme.user(Role.OWNER), workspace=globex.workspace)
    page = csrf_client.get(reverse("overview")).text
    token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page).group(1)
    response = csrf_client.post(
        reverse("switch_workspace"),
        {"workspace": globex.workspace.pk},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 302
    assert csrf_client.session["workspace_id"] == globex.workspace.pk


def test_no_route_outside_the_sandbox_and_the_api_is_csrf_exempt():
    exempt = [route for route, _, _, p in walk() if getattr(p.callback, "csrf_exempt", False)]
    # The sandbox emulates provider APIs, which take no CSRF token; production has no sandbox.
    # The public API (api/, Django REST framework's views) is signed by a key in a header,
    # never by a cookie, so no other site can make a browser act through it:
    # tests/api/test_isolation.py proves a signed-in session gets 401 on every API route.
    assert exempt, "the walk should see the sandbox's exempt API routes"
    assert [r for r in exempt if not r.startswith(("sandbox/", "api/"))] == []


def test_no_code_outside_the_sandbox_mentions_csrf_exempt():
    offenders = [
        str(path.relative_to(ROOT))
        for path in our_modules()
        if "csrf_exempt" in path.read_text() and "sandbox" not in path.parts
    ]
    assert offenders == []
