"""Review: a draft made from a template through the API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.compose import pricing
from providers.base import AccountInfo


@pytest.fixture(autouse=True)
def _funds(monkeypatch):
    monkeypatch.setattr(
        pricing, "current_funds", lambda c: AccountInfo(currency="USD", balance=Decimal("1000"))
    )


def test_a_template_with_a_placeholder_policy_makes_a_draft(api, acme):
    body = {
        "name": "From template",
        "account": acme.account.pk,
        "sender": acme.sender.value,
        "template": acme.template.pk,
        "placeholder_policy": "keep",
    }
    response = api.post("/api/v1/campaigns", body, format="json")
    assert response.status_code == 201, response.json()


def test_a_voice_draft_from_a_template_takes_its_voice(api, acme):
    from campaigns.models import MessageTemplate

    spoken = MessageTemplate.objects.create(
        workspace=acme.workspace, name="Spoken", channel="voice", text="Hello there"
    )
    body = {
        "name": "Call",
        "channel": "voice",
        "account": acme.account.pk,
        "template": spoken.pk,
        "voice": "ostap",
        "language": "uk",
        "voice_kind": "tts",
    }
    response = api.post("/api/v1/campaigns", body, format="json")
    assert response.status_code == 201, response.json()
