"""Webhook endpoints of a workspace, the events Crier records for them, and their deliveries.

An ``Event`` is written in the transaction of the change it tells of (webhooks.events), so it
exists exactly when the change committed; it is an outbox row until fanned out into one
``Delivery`` per endpoint subscribed to it then (webhooks.delivery).
"""

from __future__ import annotations

import base64
import secrets

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from core.crypto import EncryptedTextField


class EventType(models.TextChoices):
    MESSAGE_STATUS = "message.status_changed", "Message statuses changed"
    CAMPAIGN_LAUNCHED = "campaign.launched", "Campaign launched"
    CAMPAIGN_PAUSED = "campaign.paused", "Campaign paused"
    CAMPAIGN_RESUMED = "campaign.resumed", "Campaign resumed"
    CAMPAIGN_STOPPED = "campaign.stopped", "Campaign stopped"
    CAMPAIGN_COMPLETED = "campaign.completed", "Campaign completed"
    CAMPAIGN_FAILED = "campaign.failed", "Campaign failed"
    CAMPAIGN_FAILED_OVER = "campaign.failed_over", "Campaign failed over to its backup"
    IMPORT_FINISHED = "import.finished", "Import finished"
    BALANCE_LOW = "balance.low", "Balance low"
    # Sent only by the endpoint page's "Send a test event", to the one endpoint.
    TEST = "webhook.test", "Test event"


SUBSCRIBABLE = [choice for choice in EventType.choices if choice[0] != EventType.TEST]


def new_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Endpoint(models.Model):
    """A URL of the workspace's that receives the events it is subscribed to, signed with its
    secret. ``failing_since``: the first failed attempt of a failure not yet followed by a
    success; after CRIER_WEBHOOK_DISABLE_AFTER_HOURS of it the endpoint is disabled."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField("URL", max_length=500)  # checked by webhooks.delivery.check_url
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField("Events", default=list)  # EventType values
    enabled = models.BooleanField(default=True)
    # Encrypted at rest like provider credentials (signing needs the secret itself, and the
    # page shows it to the workspace's admins): the database holds only a Fernet token.
    secret = EncryptedTextField(default=new_secret)
    # After a rotation the old secret signs too until this time, so receivers can switch over.
    previous_secret = EncryptedTextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        # events.wanted: is anyone of this workspace listening? asked on every status change.
        indexes = [models.Index(fields=["workspace", "enabled"], name="webhook_endpoint_live")]

    def __str__(self) -> str:
        return self.url

    def subscribed_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [labels[t] for t in self.event_types if t in labels]


class Event(models.Model):
    """Something that happened in a workspace, as its subscribers are told."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="webhook_events"
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    # A test event goes to this endpoint alone; any other to every endpoint subscribed.
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)
    fanned_out = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["id"], condition=Q(fanned_out=False), name="webhook_event_outbox")
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    @property
    def webhook_id(self) -> str:
        """The Standard Webhooks message id: the same on every attempt and replay, so a
        receiver can tell a repeat."""
        return f"evt_{self.pk}"


class Delivery(models.Model):
    """One event on its way to one endpoint, with its last attempt's outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # not yet answered with a 2xx; next_attempt_at says when
        DELIVERED = "delivered", "Delivered"  # the endpoint answered 2xx
        FAILED = "failed", "Failed"  # retried for CRIER_WEBHOOK_RETRY_HOURS, then given up

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Due when it is in the past; a worker sending it moves it one lease ahead first.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The last attempt: HTTP status (None: no answer), time to the answer, what it said.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint}"
