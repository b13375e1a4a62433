"""The audit log: who did what to which object of a workspace, and when. Rows are never edited."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class Action(models.TextChoices):
    CREDENTIALS_CHANGED = "credentials_changed", "Credentials changed"  # set or replaced
    ACCOUNT_CREATED = "account_created", "Provider account added"
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    CAMPAIGN_LAUNCHED = "campaign_launched", "Campaign launched"
    CAMPAIGN_PAUSED = "campaign_paused", "Campaign paused"
    CAMPAIGN_RESUMED = "campaign_resumed", "Campaign resumed"
    CAMPAIGN_STOPPED = "campaign_stopped", "Campaign stopped"
    CAMPAIGN_RETRIED = "campaign_retried", "Campaign retried"
    CAMPAIGN_DELETED = "campaign_deleted", "Campaign deleted"


class AuditEvent(models.Model):
    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="audit_events"
    )
    # The user may be deleted later; actor_name keeps the trail readable. Null actor: the system.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    # A description of the object as it was then ("account Acme BSG"), not a foreign key:
    # the object may be deleted, and the event is about that deletion.
    target = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "action", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or 'Crier'}: {self.action}"

    def detail_lines(self) -> list[tuple[str, str]]:
        """The details as (label, text) pairs for display."""
        return [(key.replace("_", " "), _as_text(value)) for key, value in self.details.items()]


def _as_text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(_as_text, value)) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k} {_as_text(v)}" for k, v in value.items())
    return str(value)
