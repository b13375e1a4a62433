"""Encryption at rest for secrets (provider credentials, webhook signing secrets):
MultiFernet over CRIER_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a new key can be put first, everything
re-encrypted with ``manage.py rotate_encryption_keys``, and the old key dropped afterwards.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class CredentialsUnreadable(Exception):
    """The stored credentials were encrypted under a key that is no longer configured."""


def _fernet() -> MultiFernet:
    keys = settings.CRIER_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("CRIER_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key.strip()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CRIER_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())'`)."
        ) from exc


def encrypt(data: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            "These credentials cannot be decrypted with the configured keys. Restore the old key "
            "in CRIER_ENCRYPTION_KEYS, or enter the credentials again."
        ) from None


def encrypt_text(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt_text(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable(
            "A secret cannot be decrypted with the configured keys: restore the old key in "
            "CRIER_ENCRYPTION_KEYS."
        ) from None


class EncryptedTextField(models.TextField):
    """A string the code reads and writes in the clear and the database holds only as a
    Fernet token (empty stays empty). Not searchable or comparable in queries: a token differs
    each time the same value is encrypted."""

    def from_db_value(self, value, expression, connection):
        return decrypt_text(value) if value is not None else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt_text(value) if value else value


def rotate(token: str) -> str:
    """The same plaintext re-encrypted under the first key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("Encrypted under a key that is no longer configured.") from None


def mask(value: str) -> str:
    """What a page may show of a secret: its last four characters."""
    return f"•••• {value[-4:]}" if len(value) > 4 else "••••"
