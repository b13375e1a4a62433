from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from core import crypto
from providers.models import ProviderAccount
from webhooks.delivery import rotate_secret
from webhooks.models import Endpoint
from workspaces.models import Role


def test_round_trip_and_no_plaintext_at_rest(acme):
    stored = ProviderAccount.objects.values_list("credentials_encrypted", flat=True).get(
        pk=acme.account.pk
    )
    assert "live_acme_secret_key_9876" not in stored
    assert ProviderAccount.objects.get(pk=acme.account.pk).credentials == {
        "api_key": "live_acme_secret_key_9876"
    }


def test_rotation_add_a_key_rotate_drop_the_old_one(settings, acme, globex):
    old = settings.CRIER_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.CRIER_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=io.StringIO())

    settings.CRIER_ENCRYPTION_KEYS = [new]
    assert ProviderAccount.objects.get(pk=acme.account.pk).credentials["api_key"].endswith("9876")
    assert (
        ProviderAccount.objects.get(pk=globex.account.pk)
        .credentials["api_key"]
        .startswith("live_globex")
    )


def test_dropping_a_key_too_early_is_a_clear_error(settings, acme):
    settings.CRIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.CredentialsUnreadable, match="Restore the old key"):
        _ = ProviderAccount.objects.get(pk=acme.account.pk).credentials
    with pytest.raises(CommandError, match="Acme BSG"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())


def test_a_malformed_key_names_the_setting(settings):
    settings.CRIER_ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(Exception, match="CRIER_ENCRYPTION_KEYS holds a value that is not"):
        crypto.encrypt({"a": "b"})


@pytest.mark.parametrize(("value", "shown"), [("abcdefgh1234", "•••• 1234"), ("abc", "••••")])
def test_mask_shows_at_most_the_last_four(value, shown):
    assert crypto.mask(value) == shown


def _stored_secrets(endpoint) -> tuple[str, str]:
    """What the database holds, not what the field reads."""
    with connection.cursor() as cursor:
        table = Endpoint._meta.db_table
        cursor.execute(f"SELECT secret, previous_secret FROM {table} WHERE id = %s", [endpoint.pk])
        return cursor.fetchone()


def test_webhook_secrets_are_encrypted_at_rest_too(acme):
    endpoint = Endpoint.objects.create(workspace=acme.workspace, url="https://hooks.example/in")
    secret = endpoint.secret
    rotate_secret(endpoint, acme.user(Role.ADMIN))

    stored, previous = _stored_secrets(endpoint)
    assert secret.startswith("whsec_") and secret not in stored + previous
    assert "whsec_" not in stored + previous
    endpoint = Endpoint.objects.get(pk=endpoint.pk)
    assert endpoint.previous_secret == secret and endpoint.secret.startswith("whsec_")


def test_rotation_re_encrypts_webhook_secrets(settings, acme):
    endpoint = Endpoint.objects.create(workspace=acme.workspace, url="https://hooks.example/in")
    old = settings.CRIER_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.CRIER_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)

    settings.CRIER_ENCRYPTION_KEYS = [new]
    assert Endpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
    assert f"{Endpoint.objects.count()} webhook endpoint(s)" in out.getvalue()
