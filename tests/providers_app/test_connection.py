"""Test connection and sender-name import on the account page, through the real adapters
against the sandbox served by the live server."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crier.celery import app
from providers.models import ProviderAccount, SenderName
from providers.sandbox.accounts import provision
from providers.sandbox.models import SandboxAccount
from providers.tasks import refresh_balances
from workspaces.models import Role


@pytest.fixture
def sandbox_account(transactional_db, live_server, acme):
    def make(slug: str) -> ProviderAccount:
        account = ProviderAccount(
            workspace=acme.workspace,
            provider=slug,
            name=f"{slug} sandbox",
            api_base_url=f"{live_server.url}/sandbox/{slug}",
        )
        account.credentials = provision(slug, name=f"conn-{slug}")
        account.save()
        return account

    return make


def press_test_connection(client, account):
    return client.post(reverse("account_test", args=[account.pk]), headers={"HX-Request": "true"})


@pytest.mark.parametrize("slug", ["bsg", "mobizon"])
def test_a_good_connection_shows_the_balance_and_stores_it(as_role, sandbox_account, slug):
    account = sandbox_account(slug)
    expected = SandboxAccount.objects.get(provider=slug, name=f"conn-{slug}").balance
    response = press_test_connection(as_role(Role.ADMIN), account)

    assert "Connected." in response.text
    account.refresh_from_db()
    assert account.balance == expected
    assert account.balance_checked_at is not None
    assert account.last_error == ""
    assert f"{expected:,.2f}" in response.text


def test_smsdrop_shows_credits_in_messages(as_role, sandbox_account):
    account = sandbox_account("smsdrop")
    credits = int(SandboxAccount.objects.get(provider="smsdrop", name="conn-smsdrop").balance)
    response = press_test_connection(as_role(Role.ADMIN), account)
    assert f'Credits: <span class="font-monospace-sm">{credits}</span> messages' in response.text


def test_a_wrong_key_is_explained_and_remembered(as_role, sandbox_account):
    account = sandbox_account("bsg")
    account.credentials = {"api_key": "live_wrong_key_123456"}
    account.save()
    response = press_test_connection(as_role(Role.ADMIN), account)

    assert "The connection failed." in response.text
    assert "live_wrong_key_123456" not in response.text
    account.refresh_from_db()
    assert account.last_error
    assert "live_wrong_key" not in account.last_error


def test_conpeek_says_it_cannot_report_a_balance(as_role, sandbox_account):
    account = sandbox_account("conpeek")
    response = press_test_connection(as_role(Role.ADMIN), account)
    assert "Conpeek offers no way to read the balance" in response.text
    account.refresh_from_db()
    assert account.last_error == ""


def test_the_balance_card_is_refreshed_out_of_band(as_role, sandbox_account):
    response = press_test_connection(as_role(Role.ADMIN), sandbox_account("bsg"))
    assert 'id="account-card" hx-swap-oob="true"' in response.text
    assert "not checked yet" not in response.text


def test_sender_names_are_imported_from_the_provider(as_role, sandbox_account):
    account = sandbox_account("bsg")
    client = as_role(Role.ADMIN)
    assert "Import 3 sender names" in press_test_connection(client, account).text

    client.post(reverse("account_import_senders", args=[account.pk]))
    statuses = dict(account.senders.values_list("value", "status"))
    assert statuses == {
        "Crier": SenderName.Status.APPROVED,
        "CrierDemo": SenderName.Status.APPROVED,
        "CrierNew": SenderName.Status.PENDING,
    }
    assert "Import" not in press_test_connection(client, account).text.split("Connected.")[1]


def test_a_viewer_cannot_test_the_connection(as_role, sandbox_account):
    account = sandbox_account("bsg")
    assert press_test_connection(as_role(Role.VIEWER), account).status_code == 403
    account.refresh_from_db()
    assert account.balance_checked_at is None


def test_the_periodic_refresh_updates_balances_and_skips_conpeek(sandbox_account):
    app.conf.task_always_eager = True
    try:
        accounts = {slug: sandbox_account(slug) for slug in ["bsg", "smsdrop", "conpeek"]}
        assert refresh_balances() == {"queued": 3}  # acme's own BSG account plus bsg + smsdrop
    finally:
        app.conf.task_always_eager = False
    for slug, account in accounts.items():
        account.refresh_from_db()
        assert (account.balance_checked_at is not None) == (slug != "conpeek")
        assert account.last_error == ""
