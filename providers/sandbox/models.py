"""The sandbox's own state: accounts as each provider knows them, campaigns, messages, charges.

Message statuses are not stored: ``delivery.stage`` computes them from the message's reference
and the sandbox clock, so a campaign progresses without a background job.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from providers import registry


class SandboxAccount(models.Model):
    """One account at one emulated provider, with the credentials that provider checks."""

    # Choices are a callable, so a provider added to the registry needs no migration.
    provider = models.CharField(max_length=20, choices=registry.choices)
    name = models.CharField(max_length=100)
    # Credentials: what the provider's emulator checks (Emulator.credentials says which).
    api_key = models.CharField(max_length=100, blank=True, db_index=True)
    domain = models.CharField(max_length=40, blank=True)  # a regional API domain
    email = models.CharField(max_length=254, blank=True)
    password = models.CharField(max_length=100, blank=True)
    balance = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    currency = models.CharField(max_length=3, blank=True)  # blank: the provider counts credits
    # Bumping this invalidates every bearer token issued so far (forces a new login).
    token_version = models.PositiveIntegerField(default=0)
    request_count = models.PositiveIntegerField(default=0, editable=False)

    # Fault knobs; see faults.py for how each one behaves.
    rate_limit_every_n = models.PositiveIntegerField(
        default=0, help_text="Refuse every Nth request as rate limited (0: never)."
    )
    retry_after = models.PositiveIntegerField(
        default=1, help_text="Seconds sent in Retry-After with a rate-limit answer."
    )
    error_burst = models.PositiveIntegerField(
        default=0, help_text="The next N requests answer 503; counts down to 0."
    )
    slow_seconds = models.FloatField(default=0, help_text="Sleep this long before answering.")
    slow_accept_seconds = models.FloatField(
        default=0,
        help_text=(
            "Take a request that bills messages, work on it this long (nothing of it is "
            "visible yet), then bill and answer: a slow but correct provider."
        ),
    )
    hang = models.BooleanField(
        default=False,
        help_text="Do the work, then sleep SANDBOX_HANG_SECONDS (60) to answer.",
    )
    malformed_json = models.BooleanField(
        default=False, help_text="Do the work, then answer a truncated JSON body."
    )
    crash_after_accept = models.BooleanField(
        default=False, help_text="Record and charge accepted messages, then answer 500."
    )
    crash_after_accept_every_n = models.PositiveIntegerField(
        default=0,
        help_text="Like crash_after_accept, for every Nth request that accepts messages only.",
    )
    errors_until = models.DateTimeField(
        null=True, blank=True, help_text="Answer 503 to every request until then."
    )
    # Set when answering 429: a request before it is counted in early_requests (a real provider
    # may ban a client that ignores Retry-After).
    retry_not_before = models.DateTimeField(null=True, blank=True, editable=False)
    early_requests = models.PositiveIntegerField(default=0, editable=False)
    accepting_requests = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="sandbox_account_name")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} sandbox: {self.name}"


class SenderName(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved"  # usable as a sender
        PENDING = "pending"  # registration requested, not usable yet
        BLOCKED = "blocked"  # refused or blocked, never usable

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="senders")
    name = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPROVED)
    country = models.CharField(max_length=2, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="sandbox_sender_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class SandboxCampaign(models.Model):
    """A provider-side campaign. Its running status is derived; only decisions are stored."""

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="campaigns")
    external_id = models.CharField(max_length=40, blank=True, db_index=True)  # the provider's id
    name = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=40, blank=True)
    text = models.TextField(blank=True)
    channel = models.CharField(max_length=10, default="sms")  # sms | voice
    start_at = models.DateTimeField(null=True, blank=True)  # deferred start
    launched_at = models.DateTimeField(null=True, blank=True)  # None: created, not sent yet
    stopped_at = models.DateTimeField(null=True, blank=True)  # BSG stop
    deleted_at = models.DateTimeField(null=True, blank=True)  # Mobizon delete
    params = models.JSONField(default=dict, blank=True)  # the provider's other fields, as given
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.account.provider} campaign {self.external_id or self.pk}"


class SandboxMessage(models.Model):
    campaign = models.ForeignKey(SandboxCampaign, on_delete=models.CASCADE, related_name="messages")
    reference = models.CharField(max_length=100, db_index=True)  # drives the delivery outcome
    # The reference the client gave (BSG's reference_id), unique per account as at BSG: the
    # database refuses a second one atomically, however close together two requests come.
    account = models.ForeignKey(
        SandboxAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    client_reference = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    phone = models.CharField(max_length=20)
    text = models.TextField(blank=True)
    segments = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    params = models.JSONField(default=dict, blank=True)  # Conpeek custom, placeholders, ...
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)  # None: added, not sent yet

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_reference"], name="sandbox_client_reference_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.reference})"


class ChargeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(refunded_at__isnull=True)

    def total(self) -> Decimal:
        """The exact sum of ``amount``. Summed here, not with ``Sum``: SQLite adds decimals as
        floats (1,000 x 0.0350 came back as 34.9999999999998)."""
        return sum(self.values_list("amount", flat=True), Decimal("0"))


class Charge(models.Model):
    """The ledger: one row each time the provider accepted (and billed) a message.

    ``reference`` is our per-message reference as the wire carries it (see accounts.reference
    for providers that carry none). Two active rows with one reference mean we sent twice.
    """

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="charges")
    message = models.ForeignKey(SandboxMessage, on_delete=models.CASCADE, related_name="charges")
    reference = models.CharField(max_length=100, db_index=True)
    phone = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=12, decimal_places=4)
    created_at = models.DateTimeField()
    refunded_at = models.DateTimeField(null=True, blank=True)  # stopped/deleted before sending

    objects = ChargeQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["account", "reference"], name="sandbox_charge_ref")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="sandbox_charge_positive")
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount}"
