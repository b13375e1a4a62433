from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from providers import crypto
from providers.models import ProviderAccount


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
