"""Provider accounts a workspace pays for, and the sender names registered on them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import httpx
import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import crypto
from providers import gate, registry
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
    # The provider counts SMS credits, not money (AccountInfo.credits, smsdrop): ``balance``
    # is then a number of credits, never an amount in ``currency``.
    balance_in_credits = models.BooleanField(default=False, editable=False)
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    # A balance check that finds the balance (or credits) fallen below this tells webhooks
    # subscribed to balance.low, once per fall (providers.services.check_connection).
    low_balance = models.DecimalField(
        "Low balance alert",
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Webhooks hear of it when the balance falls below this. Empty: never.",
    )
    is_active = models.BooleanField("active", default=True)
    last_error = models.TextField(blank=True)
    # The provider answered 429 with a Retry-After: no request goes to it before then, whether
    # it sends (campaigns.sending.engine) or polls (campaigns.tracking.polling). Rate limits
    # are per account.
    quiet_until = models.DateTimeField(null=True, blank=True)
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
    def balance_text(self) -> str:
        """The balance as the provider counts it: "10,000 credits" or "1,234.50 EUR"."""
        if self.balance is None:
            return ""
        if self.balance_in_credits:
            return f"{int(self.balance):,} credit{'' if self.balance == 1 else 's'}"
        return f"{self.balance:,.2f} {self.currency}"

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

    def quiet_for(self, seconds: float) -> datetime:
        """The provider asked for ``seconds`` of quiet: no request before then (never shortens a
        quiet already asked for). Returns the end of the quiet."""
        until = timezone.now() + timedelta(seconds=seconds)
        ProviderAccount.objects.filter(pk=self.pk).filter(
            Q(quiet_until__isnull=True) | Q(quiet_until__lt=until)
        ).update(quiet_until=until)
        self.quiet_until = max(until, self.quiet_until or until)
        return self.quiet_until

    def exclusive(self):
        """One request at a time to this account, in every process (providers.gate); a caller
        waits at most as long as one request can take."""
        return gate.one_at_a_time(self.pk, wait=2 * settings.CRIER_PROVIDER_TIMEOUT + 10)

    def quiet_left(self) -> datetime | None:
        """When the quiet the provider asked for ends, if it has not ended yet (read afresh)."""
        until = ProviderAccount.objects.filter(pk=self.pk).values_list("quiet_until", flat=True)
        until = until.first()
        return until if until and until > timezone.now() else None

    def adapter(self, on_request: Callable[[httpx.Request], None] | None = None) -> ProviderAdapter:
        """The one way to build this account's adapter: its provider's class with the account's
        credentials and pace (see ProviderAdapter.__init__ for ``on_request``). Use it in a
        ``with`` block: the adapter closes its HTTP client on exit."""
        return self.adapter_class(
            base_url=self.api_base_url,
            credentials=self.credentials,
            pace=self,
            on_request=on_request,
        )


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


def split_destination(text: str) -> tuple[str, str]:
    """(country, prefix) from what a person types: "kz" is a country, "+7 701" a prefix."""
    value = text.strip()
    digits = re.sub(r"[\s()+\-]", "", value)
    if digits.isdigit():
        return "", digits
    return value.upper(), ""


def validate_country(code: str) -> None:
    if code.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"“{code}” is not a country code. Use two letters such as KZ.")


class Rate(models.Model):
    """One line of an account's rate card: the price of one SMS part, or of one voice call, to
    a country or to numbers starting with a dialling prefix, in the account's currency.

    A prefix beats a country and the longest matching prefix wins (see RateCard); SMS and voice
    have rates of their own, as providers bill a call differently from a text.
    """

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        VOICE = "voice", "Voice"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="rates")
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.SMS)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_country],
        help_text="Two-letter code such as KZ. Empty for a prefix.",
    )
    prefix = models.CharField(
        "dialling prefix",
        max_length=15,
        blank=True,
        help_text="Digits with the country code, e.g. 7701 for Kcell in Kazakhstan.",
    )
    price = models.DecimalField(
        "price per part or call",
        max_digits=14,
        decimal_places=6,
        help_text="In the account's currency, for one SMS part or one voice call.",
    )
    note = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "country", "prefix"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(country="") & ~models.Q(prefix=""))
                | (~models.Q(country="") & models.Q(prefix="")),
                name="rate_country_xor_prefix",
                violation_error_message="A rate is for a country or for a dialling prefix: give "
                "exactly one of them.",
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0),
                name="rate_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
            models.UniqueConstraint(
                fields=["account", "channel", "country"],
                condition=~models.Q(country=""),
                name="rate_country_once_per_account_channel",
                violation_error_message="This account already has a rate for this country.",
            ),
            models.UniqueConstraint(
                fields=["account", "channel", "prefix"],
                condition=~models.Q(prefix=""),
                name="rate_prefix_once_per_account_channel",
                violation_error_message="This account already has a rate for this prefix.",
            ),
        ]

    def __str__(self) -> str:
        return self.destination

    @property
    def destination(self) -> str:
        return self.country or f"+{self.prefix}"

    @property
    def price_text(self) -> str:
        """The price without trailing zeros: "0.035", "16.2", "90"."""
        return f"{self.price.normalize():f}"

    def clean(self) -> None:
        # "Exactly one of country and prefix" and the price's sign are the constraints' to say.
        self.country = (self.country or "").strip().upper()
        self.prefix = re.sub(r"[\s()+\-]", "", self.prefix or "")
        if self.prefix:
            if not self.prefix.isdigit():
                raise ValidationError(
                    {"prefix": "A dialling prefix is digits only, such as 7701 or +7 701."}
                )
            if not _starts_with_calling_code(self.prefix):
                raise ValidationError(
                    {
                        "prefix": f"No country's calling code starts {self.prefix}: begin with "
                        "the country code, e.g. 7701 for +7 701."
                    }
                )


def _starts_with_calling_code(digits: str) -> bool:
    # Calling codes are 1 to 3 digits, none starts with 0 and none is a prefix of another.
    return not digits.startswith("0") and any(
        int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        for n in (1, 2, 3)
        if len(digits) >= n
    )


class RateCard:
    """An account's rates ready for looking numbers up, built with one query.

    ``rate_for(phone, country)`` is the Rate for an E.164 number: the longest dialling prefix
    the number starts with, else its country's rate, else None.
    """

    def __init__(self, rates: Iterable[Rate]):
        self.by_country: dict[str, Rate] = {}
        self.by_prefix: dict[str, Rate] = {}
        for rate in rates:
            if rate.prefix:
                self.by_prefix[rate.prefix] = rate
            else:
                self.by_country[rate.country] = rate
        lengths = {len(prefix) for prefix in self.by_prefix}
        self._lengths = sorted(lengths, reverse=True)

    @classmethod
    def of(cls, account: ProviderAccount | None, channel: str = Rate.Channel.SMS) -> RateCard:
        """The account's rates for one channel (an SMS part or a voice call)."""
        return cls(account.rates.filter(channel=channel) if account is not None else ())

    def __bool__(self) -> bool:
        return bool(self.by_country or self.by_prefix)

    def rate_for(self, phone: str, country: str) -> Rate | None:
        digits = phone.lstrip("+")
        for length in self._lengths:
            rate = self.by_prefix.get(digits[:length])
            if rate is not None:
                return rate
        return self.by_country.get(country)
