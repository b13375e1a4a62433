"""The Python API the demo data and the adapter tests use."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.sandbox import accounts
from providers.sandbox.models import SandboxAccount, SenderName

pytestmark = pytest.mark.django_db

KEYS = {
    "bsg": {"api_key"},
    "mobizon": {"api_key", "domain"},
    "smsdrop": {"email", "password"},
    "conpeek": {"api_key", "tenant_url", "voice_campaign_id"},
}


@pytest.mark.parametrize("slug", KEYS)
def test_provision_returns_exactly_the_adapter_credential_keys(slug):
    credentials = accounts.provision(slug)
    assert set(credentials) == KEYS[slug]
    assert all(isinstance(value, str) for value in credentials.values())


@pytest.mark.parametrize("slug", KEYS)
def test_provision_is_idempotent_by_name(slug):
    first = accounts.provision(slug, name="Demo")
    assert accounts.provision(slug, name="Demo") == first
    assert accounts.provision(slug, name="Other") != first
    assert SandboxAccount.objects.filter(provider=slug).count() == 2


def test_provisioned_account_has_money_and_sender_names():
    accounts.provision("bsg")
    account = SandboxAccount.objects.get(provider="bsg", name="Demo")
    assert account.balance > Decimal("10")
    statuses = sorted(account.senders.values_list("status", flat=True))
    assert statuses == ["approved", "approved", "pending"]


def test_mobizon_domain_is_a_regional_one():
    assert accounts.provision("mobizon")["domain"] in {"mobizon.kz", "mobizon.com.br", "mobizon.uz"}


def test_conpeek_campaign_id_names_an_existing_voice_campaign():
    credentials = accounts.provision("conpeek")
    account = SandboxAccount.objects.get(provider="conpeek")
    assert account.campaigns.get().external_id == credentials["voice_campaign_id"]
    assert credentials["tenant_url"] == ""


def test_unknown_provider_fails_loudly():
    with pytest.raises(ValueError, match="nexmo"):
        accounts.provision("nexmo")


def test_tokens_are_scoped_to_provider_and_revocable():
    accounts.provision("bsg")
    account = SandboxAccount.objects.get(provider="bsg")
    token = accounts.issue_token(account)
    assert accounts.account_for_token("bsg", token) == account
    assert accounts.account_for_token("smsdrop", token) is None
    assert accounts.account_for_token("bsg", token + "x") is None
    account.token_version += 1
    account.save()
    assert accounts.account_for_token("bsg", token) is None


def test_sender_statuses_are_the_documented_set():
    assert set(SenderName.Status.values) == {"approved", "pending", "blocked"}
