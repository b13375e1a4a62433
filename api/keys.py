"""Issuing, finding and checking API keys.

A key reads ``crier_<prefix>_<secret>`` and travels as ``Authorization: Bearer <key>``. The
request then acts inside the key's workspace only: ``request.workspace`` is set from it, so
the same ``get_for_workspace`` lookups as the pages make a foreign id a 404.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.models import ApiKey, Scope
from audit.log import record
from audit.models import Action

PREFIX_BYTES = 4  # 8 hex characters, shown in the list and in the audit log
SECRET_BYTES = 32
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at moves at most this often


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def issue(workspace, user, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """A new key and its full text, which is shown once and never stored."""
    while True:
        prefix = secrets.token_hex(PREFIX_BYTES)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=[s for s in Scope.values if s in scopes],
        created_by=user,
    )
    record(
        workspace,
        user,
        Action.API_KEY_CREATED,
        target=f"API key {name}",
        prefix=prefix,
        scopes=key.scopes,
    )
    return key, f"crier_{prefix}_{secret}"


@transaction.atomic
def revoke(key: ApiKey, user) -> bool:
    """Stops the key at once; False if it was revoked already."""
    done = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
    if done:
        record(
            key.workspace,
            user,
            Action.API_KEY_REVOKED,
            target=f"API key {key.name}",
            prefix=key.prefix,
        )
    return bool(done)


def split(text: str) -> tuple[str, str] | None:
    """A key's (prefix, secret), or None if ``text`` is not written as a key."""
    parts = text.split("_", 2)
    if len(parts) != 3 or parts[0] != "crier" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def bearer(header: bytes) -> list[bytes]:
    """The words of an Authorization header, split on ASCII whitespace as HTTP does (DRF's
    get_authorization_header gives the bytes); the short way of POST /messages reads it the
    same way (api/fast.py)."""
    return header.split()


def find(text: str) -> ApiKey | None:
    """The active key ``text`` is, or None; compares the secret's hash in constant time."""
    parts = split(text)
    if parts is None:
        return None
    key = (
        ApiKey.objects.select_related("workspace", "created_by")
        .filter(prefix=parts[0], revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(parts[1])):
        return None
    return key


class KeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer crier_…``. The user is the key's creator (who answers for what
    it does in the audit log, each event marked with the key); the workspace is the key's."""

    def authenticate(self, request):
        header = bearer(get_authorization_header(request))
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        try:
            key = find(header[1].decode())
        except UnicodeDecodeError:
            key = None
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        request._request.workspace = key.workspace
        request._request.api_key = key
        timezone.deactivate()  # the API answers in UTC, whatever the workspace's zone
        return (key.created_by or _Nobody(), key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class _Nobody:
    """The user of a key whose creator was deleted: the key still acts for its workspace."""

    is_authenticated = True
    is_active = True
    pk = None

    def get_username(self) -> str:
        return ""


def actor(request):
    """The user to record as acting, or None (a key whose creator was deleted)."""
    user = request.user
    return user if getattr(user, "pk", None) else None


class ScopePermission(BasePermission):
    """Reading needs ``read``; a view names what its other methods need in ``write_scope``
    (``send`` by default), or per method in ``scopes``."""

    message = "This API key lacks the scope this needs."

    def has_permission(self, request, view) -> bool:
        key = getattr(request._request, "api_key", None)
        if key is None:
            return False
        needed = getattr(view, "scopes", {}).get(request.method)
        if needed is None:
            needed = Scope.READ if request.method in SAFE_METHODS else view.write_scope
        self.message = f"This API key lacks the “{needed}” scope this needs."
        return needed in key.scopes
