"""schemathesis against the app's own OpenAPI document: generated requests to every
operation, signed with a key of a workspace that has data, must never get a 500, and every
answer must match the document (errors included: problem details)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from campaigns.compose import pricing
from providers.base import AccountInfo
from tests.api.conftest import client_for

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.specs.openapi.checks.response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: a finished request must not close the test's database
    connection (the WSGI handler's request signals would)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def key(acme, monkeypatch):
    from decimal import Decimal

    monkeypatch.setattr(
        pricing, "current_funds", lambda c: AccountInfo(currency="USD", balance=Decimal(100))
    )
    return client_for(acme).key_text


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.django_db
def test_the_api_keeps_to_its_document(case, key, acme):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
    # Ids the workspace holds, so generated requests reach the code behind the 404s too.
    for name, value in {
        "campaign_pk": acme.campaign.pk,
        "account_pk": acme.account.pk,
        "sender_pk": acme.sender.pk,
        "import_pk": acme.recipient_import.pk,
        "contact_pk": acme.contact.pk,
        "list_pk": acme.contact_list.pk,
        "segment_pk": acme.segment.pk,
        "template_pk": acme.template.pk,
    }.items():
        given = (case.path_parameters or {}).get(name)
        if isinstance(given, int) and given % 2:
            case.path_parameters[name] = value
    response = case.call()
    case.validate_response(response, checks=CHECKS)
