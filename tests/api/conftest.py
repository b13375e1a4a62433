"""API clients signed with a tenant's key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api import keys
from api.models import Scope
from tests.campaigns.test_imports import eager  # noqa: F401  (imports run in the test)
from workspaces.models import Role

ALL = [Scope.READ, Scope.SEND, Scope.MANAGE]


def client_for(tenant, scopes=ALL, name: str = "Test key") -> APIClient:
    _, text = keys.issue(tenant.workspace, tenant.user(Role.OWNER), name, list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    client.key_text = text
    return client


@pytest.fixture
def api(acme) -> APIClient:
    return client_for(acme)


@pytest.fixture
def reader(acme) -> APIClient:
    return client_for(acme, [Scope.READ], name="Reader")


@pytest.fixture
def other(globex) -> APIClient:
    return client_for(globex)
