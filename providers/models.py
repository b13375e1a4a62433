"""Provider accounts a workspace pays for, and the sender names registered on them."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from providers import crypto, registry
from providers.base import ProviderAdapter


class ProviderAccount(models.Model):
    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="provider_accounts"
    )
    provider = models.CharField(max_length=20, choices=registry.choices)
    name = models.CharField(max_length=100)
    api_base_url = models.URLField(
        "API base URL",
        blank=True,
        help_text="Leave empty for the provider's documented host.",
    )
    # One Fernet token holding a JSON object whose keys are the adapter's credential_fields.
    # Never read it directly: use .credentials, which decrypts.
    credentials_encrypted = models.TextField(editable=False, default="")
    currency = models.CharField(max_length=3, default="USD")
    allowed_countries = models.CharField(
        max_length=300,
        blank=True,
        help_text="Two-letter codes separated by commas, e.g. KZ, UZ. Empty: every country.",
    )
    balance = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField("active", default=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="account_name_per_workspace")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    def allowed_country_set(self) -> frozenset[str] | None:
        """The countries recipients may be in, or None when every country is allowed."""
        codes = {c.strip().upper() for c in self.allowed_countries.split(",") if c.strip()}
        return frozenset(codes) or None

    @property
    def adapter_class(self) -> type[ProviderAdapter]:
        return registry.get(self.provider)

    @property
    def credentials(self) -> dict[str, str]:
        return crypto.decrypt(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict[str, str]) -> None:
        self.credentials_encrypted = crypto.encrypt(value)

    def masked_credentials(self) -> list[tuple[str, str]]:
        """(label, display value) pairs safe for a page: secrets show their last 4 characters."""
        try:
            values = self.credentials
        except crypto.CredentialsUnreadable:
            return [("Credentials", "cannot be decrypted with the configured keys")]
        return [
            (f.label, crypto.mask(values.get(f.name, "")) if f.secret else values.get(f.name, ""))
            for f in self.adapter_class.credential_fields
        ]

    @property
    def effective_base_url(self) -> str:
        return self.api_base_url or self.adapter_class.resolve_base_url(self.credentials)

    def adapter(self) -> ProviderAdapter:
        return self.adapter_class(base_url=self.api_base_url, credentials=self.credentials)


_ALNUM_SENDER = re.compile(r"^[A-Za-z0-9 .\-_&]+$")


class SenderName(models.Model):
    class Kind(models.TextChoices):
        ALPHANUMERIC = "alphanumeric", "Alphanumeric"
        NUMERIC = "numeric", "Numeric"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # asked for; the provider has not decided yet
        APPROVED = "approved", "Approved"  # campaigns may use it
        REJECTED = "rejected", "Rejected"  # the provider refused it; see the note

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="senders")
    value = models.CharField("sender name", max_length=20)  # clean() applies the real limits
    kind = models.CharField(
        max_length=12,
        choices=Kind.choices,
        default=Kind.ALPHANUMERIC,
        help_text="Alphanumeric: up to 11 Latin letters, digits and spaces. Numeric: up to 15 "
        "digits, a phone number or short code.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["value"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "value"],
                name="sender_once_per_account",
                violation_error_message="This sender name is already registered on this account.",
            )
        ]

    def __str__(self) -> str:
        return self.value

    def clean(self) -> None:
        value = self.value or ""
        if self.kind == self.Kind.NUMERIC:
            digits = value.removeprefix("+")
            if not digits.isdigit():
                raise ValidationError(
                    {"value": "A numeric sender name may contain only digits (and a leading +)."}
                )
            if len(digits) > 15:
                raise ValidationError(
                    {
                        "value": "A numeric sender name has at most 15 digits; "
                        f"this has {len(digits)}."
                    }
                )
        else:
            if len(value) > 11:
                raise ValidationError(
                    {
                        "value": "An alphanumeric sender name has at most 11 characters; "
                        f"“{value}” has {len(value)}."
                    }
                )
            if not _ALNUM_SENDER.match(value):
                raise ValidationError(
                    {
                        "value": "An alphanumeric sender name may use Latin letters, digits, "
                        "spaces and . - _ & only."
                    }
                )
            if value.isdigit():
                raise ValidationError(
                    {"value": "A sender name of digits only is numeric: choose the numeric kind."}
                )
