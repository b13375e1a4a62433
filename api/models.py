"""API keys (one workspace each, stored hashed, with scopes) and the answers kept for
idempotent retries."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Scope(models.TextChoices):
    # Independent: a key holds the ones it was given (api.keys.ScopePermission).
    READ = "read", "Read: campaigns, messages, counters, accounts, contacts"
    SEND = "send", "Send: create and launch campaigns, send single messages"
    MANAGE = "manage", "Manage: delete campaigns, change the stop list and the contact book"


class ApiKey(models.Model):
    """``crier_<prefix>_<secret>``: the prefix is shown and finds the row, the secret is kept
    only as its SHA-256 (a 256-bit random secret needs no slow hash: nothing to guess)."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)  # moved at most once a minute
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (crier_{self.prefix}_…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def scope_labels(self) -> list[str]:
        return [label.split(":")[0] for value, label in Scope.choices if value in self.scopes]


class IdempotentRequest(models.Model):
    """A POST sent with an ``Idempotency-Key``: the first answer, returned again for a retry
    with the same body for 24 hours (api.idempotency)."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None: in progress
    body = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once")
        ]

    def __str__(self) -> str:
        return self.key
