"""schemathesis against the app's own OpenAPI document: generated requests to every
operation, signed with a key of a workspace that has data, must never get a 500, and every
answer must match the document (errors included: problem details)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings

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


@pytest.mark.django_db
def test_chained_calls_keep_to_the_document(key, acme, reached):
    """Stateful: schemathesis follows the document's links (api.schema.add_links) from what a
    POST makes to the operations on it (a draft made, then read, changed, given recipients,
    priced, launched, cloned...), so generated calls reach past the 404 of a random id."""
    workflow = schema.as_state_machine()

    class Workflow(workflow):
        # Each generated chain starts from the same data and an empty cache (no rate limit
        # left over from the chain before): hypothesis notices a chain whose answers depend on
        # what came before it.
        def setup(self):
            cache.clear()  # the rate limit's and idempotency's records too
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
            # Realistic ids where a generated body names the workspace's account: a draft
            # then gets made, and the chains go on from it.
            if isinstance(case.body, dict) and case.method == "POST" and "account" in case.body:
                case.body.update(account=acme.account.pk, sender=acme.sender.value)

        def after_call(self, response, case):
            reached.add((case.method, case.path, response.status_code))

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=40,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            # Generated chains only, none replayed: a chain's calls read ids the database gave
            # out, which a replay would not see again (hypothesis then calls it flaky).
            phases=[Phase.generate],
            database=None,
        )
    )
    # The chains went somewhere: a draft made was then found, not 404 (or 401).
    made = {(m, p) for m, p, code in reached if code in (200, 201, 202)}
    assert ("POST", "/api/v1/campaigns") in made, sorted(reached)
    assert {p for m, p in made if "{campaign_pk}" in p}, sorted(reached)


@pytest.fixture
def reached():
    return set()


def test_what_a_post_makes_links_to_the_operations_on_it(client):
    document = client.get("/api/schema/?format=json").json()  # as served, not as inferred
    made = document["paths"]["/api/v1/campaigns"]["post"]["responses"]["201"]["links"]
    assert made["campaigns_launch_create"]["parameters"] == {"campaign_pk": "$response.body#/id"}
    started = document["paths"]["/api/v1/campaigns/{campaign_pk}/recipients"]["post"]
    assert set(started["responses"]["202"]["links"]) == {
        "imports_retrieve",
        "imports_rejections_retrieve",
    }
    # An answer without an id of its own (a launch answers {"campaign": ...}) links nowhere.
    launch = document["paths"]["/api/v1/campaigns/{campaign_pk}/launch"]["post"]
    assert "links" not in launch["responses"]["200"]
