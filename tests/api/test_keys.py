"""API keys: shown once, stored hashed, scoped, revocable, audited; errors as problems."""

from __future__ import annotations

import hashlib

from rest_framework.test import APIClient

from api.models import ApiKey
from audit.models import Action, AuditEvent
from tests.api.conftest import client_for
from workspaces.models import Role


def test_a_key_is_stored_only_as_its_hash_and_shown_with_its_prefix(acme):
    client = client_for(acme)
    key = ApiKey.objects.get()
    prefix, secret = client.key_text.split("_", 2)[1:]
    assert key.prefix == prefix
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.values().get())
    event = AuditEvent.objects.get(action=Action.API_KEY_CREATED)
    assert event.details["prefix"] == prefix
    assert secret not in str(event.details)


def test_requests_carry_the_key_and_move_last_used(api, acme):
    assert ApiKey.objects.get().last_used_at is None
    response = api.get("/api/v1/campaigns")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["Acme spring sale"]
    assert ApiKey.objects.get().last_used_at is not None


def test_no_key_a_wrong_key_and_a_revoked_key_are_401_problems(api, acme):
    anonymous = APIClient()
    response = anonymous.get("/api/v1/campaigns")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "/api/v1/problems/not-authenticated"
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=api.key_text[:-2] + "xx")
    assert forged.get("/api/v1/campaigns").status_code == 401
    from api import keys

    keys.revoke(ApiKey.objects.get(), acme.user(Role.OWNER))
    response = api.get("/api/v1/campaigns")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert AuditEvent.objects.filter(action=Action.API_KEY_REVOKED).count() == 1


def test_a_read_key_cannot_launch_or_send(reader, acme):
    response = reader.post(f"/api/v1/campaigns/{acme.campaign.pk}/launch", {}, format="json")
    assert response.status_code == 403
    assert response.json()["type"] == "/api/v1/problems/missing-scope"
    assert "“send”" in response.json()["detail"]
    assert reader.get(f"/api/v1/campaigns/{acme.campaign.pk}").status_code == 200


def test_a_send_key_cannot_delete(acme):
    sender = client_for(acme, ["read", "send"])
    response = sender.delete(f"/api/v1/campaigns/{acme.campaign.pk}")
    assert response.status_code == 403
    assert "“manage”" in response.json()["detail"]


def test_actions_through_a_key_are_audited_as_through_it(api, acme):
    api.delete(f"/api/v1/campaigns/{acme.campaign.pk}")
    event = AuditEvent.objects.get(action=Action.CAMPAIGN_DELETED)
    key = ApiKey.objects.get()
    assert event.details["via"] == f"API key {key.prefix} (Test key)"
    assert event.actor == acme.user(Role.OWNER)


def test_the_keys_page_shows_a_new_key_once_and_only_to_admins(client, acme):
    client.force_login(acme.user(Role.ADMIN))
    response = client.post("/api-keys/", {"name": "CRM", "scopes": ["read", "send"]})
    assert response.status_code == 200
    shown = response.context["shown"]
    assert shown.startswith("crier_") and shown in response.content.decode()
    again = client.get("/api-keys/")
    assert shown not in again.content.decode()
    assert "crier_" + ApiKey.objects.get().prefix in again.content.decode()
    # The key works at once with exactly its scopes.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {shown}")
    assert api.get("/api/v1/accounts").status_code == 200
    client.force_login(acme.user(Role.SENDER))
    assert client.get("/api-keys/").status_code == 403


def test_the_keys_page_refuses_a_key_without_scopes_naming_the_field(client, acme):
    client.force_login(acme.user(Role.ADMIN))
    response = client.post("/api-keys/", {"name": "CRM"})
    assert response.status_code == 400
    assert "at least one scope" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoking_from_the_page(client, acme):
    api = client_for(acme)
    client.force_login(acme.user(Role.ADMIN))
    key = ApiKey.objects.get()
    client.post(f"/api-keys/{key.pk}/revoke/")
    assert api.get("/api/v1/campaigns").status_code == 401


def test_a_problem_type_is_described_where_it_points(api, acme):
    response = api.get("/api/v1/campaigns/999999")
    assert response.status_code == 404
    kind = response.json()["type"]
    description = APIClient().get(kind)
    assert description.status_code == 200
    assert description.json()["title"] == "Not found"


def test_over_the_rate_a_key_gets_429_with_retry_after(api, settings):
    from django.core.cache import cache

    cache.clear()
    settings.CRIER_API_RATE = "3/min"
    assert [api.get("/api/v1/accounts").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/api/v1/accounts")
    assert response.status_code == 429
    assert response.json()["type"] == "/api/v1/problems/rate-limited"
    assert 0 < int(response["Retry-After"]) <= 60
    cache.clear()


def test_the_docs_and_the_document_are_served_without_a_key(client):
    document = client.get("/api/schema/")
    assert document.status_code == 200
    assert b"/api/v1/campaigns/{campaign_pk}/launch" in document.content
    assert client.get("/api/docs/").status_code == 200
