"""The API's isolation, generated from its URL patterns like the dashboard's
(tests/workspaces/test_isolation.py): a key acts inside its own workspace only, another
workspace's id is a 404 whatever the method and changes nothing, and a browser session is
never an API credential (so the API needs no CSRF token: no cookie can act through it)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import client_for
from tests.routes import api_routes, url_for
from tests.workspaces.test_isolation import snapshot
from workspaces.models import Role

ROUTES = api_routes()
OBJECT_ROUTES = [(name, kwargs) for name, kwargs in ROUTES if kwargs]


def test_the_walk_finds_the_api():
    names = {name for name, _ in ROUTES}
    assert {"api_campaigns", "api_launch", "api_messages", "api_message", "api_accounts"} <= names
    assert len(OBJECT_ROUTES) >= 15


@pytest.mark.parametrize(("name", "kwargs"), OBJECT_ROUTES, ids=[n for n, _ in OBJECT_ROUTES])
def test_a_key_gets_404_for_another_workspaces_ids(acme, globex, name, kwargs):
    api = client_for(acme)
    url = url_for(name, kwargs, globex)
    before = snapshot()
    statuses = {
        api.get(url).status_code,
        api.post(
            url, {"name": "X", "recipients": [{"phone": "+77011234567"}]}, format="json"
        ).status_code,
        api.patch(url, {"name": "X"}, format="json").status_code,
        api.delete(url).status_code,
    }
    assert statuses <= {404, 405}, statuses
    assert 404 in statuses
    assert snapshot() == before


@pytest.mark.parametrize(("name", "kwargs"), OBJECT_ROUTES, ids=[n for n, _ in OBJECT_ROUTES])
def test_own_ids_are_reachable(acme, name, kwargs):
    """The 404s above come from the scoping, not from a broken route."""
    response = client_for(acme).get(url_for(name, kwargs, acme))
    assert response.status_code in {200, 202, 405}


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=[n for n, _ in ROUTES])
def test_a_signed_in_browser_session_is_not_an_api_credential(acme, name, kwargs):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(acme.user(Role.OWNER))
    url = url_for(name, kwargs, acme)
    before = snapshot()
    for method in (browser.get, browser.post, browser.patch, browser.delete):
        assert method(url).status_code in {401, 405}
    assert snapshot() == before
