"""The audit log: who did what to which object of a workspace, and when. Rows are never edited."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format

from workspaces.models import Role


class Action(models.TextChoices):
    CREDENTIALS_CHANGED = "credentials_changed", "Credentials changed"  # set or replaced
    ACCOUNT_CREATED = "account_created", "Provider account added"
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    MEMBER_INVITED = "member_invited", "Member invited"  # an e-mail with a link went out
    INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"  # its link stopped working
    INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"  # the invitee joined
    CAMPAIGN_LAUNCHED = "campaign_launched", "Campaign launched"
    CAMPAIGN_PAUSED = "campaign_paused", "Campaign paused"
    CAMPAIGN_RESUMED = "campaign_resumed", "Campaign resumed"
    CAMPAIGN_STOPPED = "campaign_stopped", "Campaign stopped"
    CAMPAIGN_RETRIED = "campaign_retried", "Campaign retried"
    # The primary account tripped the failover rule: pending messages moved to the backup.
    CAMPAIGN_FAILED_OVER = "campaign_failed_over", "Campaign failed over to its backup account"
    CAMPAIGN_DELETED = "campaign_deleted", "Campaign deleted"
    WORKSPACE_CHANGED = "workspace_changed", "Workspace settings changed"  # each field old → new
    RATE_CARD_CHANGED = "rate_card_changed", "Rate card changed"  # a rate added, edited, removed
    RATE_CARD_IMPORTED = "rate_card_imported", "Rate card imported"  # a file: how many rates
    CONTACT_EXPORTED = "contact_exported", "Contact's data exported"  # as JSON, by a member
    # The contact deleted, their number replaced by a one-way stand-in in past messages
    CONTACT_ERASED = "contact_erased", "Contact erased"
    # The contact book (numbers never: contacts by id, opt-outs by count) and message templates
    CONTACT_CREATED = "contact_created", "Contact added"
    CONTACT_CHANGED = "contact_changed", "Contact changed"  # which fields, never their values
    CONTACT_DELETED = "contact_deleted", "Contact deleted"  # through the API; see also erased
    CONTACTS_OPTED_OUT = "contacts_opted_out", "Numbers opted out"  # how many, from where
    CONTACT_OPTED_IN = "contact_opted_in", "Number opted back in"
    CONTACTS_IMPORTED = "contacts_imported", "Contacts imported"  # a finished import's counts
    LIST_CREATED = "list_created", "List created"
    LIST_RENAMED = "list_renamed", "List renamed"
    LIST_DELETED = "list_deleted", "List deleted"
    LIST_MEMBERS_ADDED = "list_members_added", "Contacts added to a list"  # how many
    LIST_MEMBERS_REMOVED = "list_members_removed", "Contacts removed from a list"
    SEGMENT_CREATED = "segment_created", "Segment created"
    SEGMENT_CHANGED = "segment_changed", "Segment changed"
    SEGMENT_DELETED = "segment_deleted", "Segment deleted"
    FIELD_CREATED = "field_created", "Contact field created"
    FIELD_CHANGED = "field_changed", "Contact field changed"
    FIELD_DELETED = "field_deleted", "Contact field deleted"  # and the values contacts held
    TEMPLATE_CREATED = "template_created", "Message template created"
    TEMPLATE_CHANGED = "template_changed", "Message template changed"
    TEMPLATE_DELETED = "template_deleted", "Message template deleted"
    API_KEY_CREATED = "api_key_created", "API key created"  # its prefix and scopes
    API_KEY_REVOKED = "api_key_revoked", "API key revoked"
    WEBHOOK_CREATED = "webhook_created", "Webhook endpoint added"
    WEBHOOK_CHANGED = "webhook_changed", "Webhook endpoint changed"  # each field old → new
    WEBHOOK_DELETED = "webhook_deleted", "Webhook endpoint deleted"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", "Webhook secret rotated"
    WEBHOOK_TESTED = "webhook_tested", "Webhook test event sent"
    WEBHOOK_REPLAYED = "webhook_replayed", "Webhook delivery replayed"
    # Crier disabled an endpoint that kept failing (CRIER_WEBHOOK_DISABLE_AFTER_HOURS)
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled"


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
        """The details as (label, text) pairs for display: ids left out (the target names the
        object), ``old_x``/``new_x`` and ``{"old", "new"}`` pairs as "old → new", roles by
        their names, counts with thousands separators, an estimate with its currency, times
        in the reader's time zone."""
        details = dict(self.details)
        if "estimate" in details and "currency" in details:  # one amount, not two lines
            details["estimate"] = f"{details['estimate']} {details.pop('currency')}"
        lines = []
        for key, value in sorted(details.items(), key=_reading_order):
            if key.endswith("_id") or (key.startswith("new_") and f"old_{key[4:]}" in details):
                continue
            if key.startswith("old_") and f"new_{key[4:]}" in details:
                key, value = key[4:], {"old": value, "new": details[f"new_{key[4:]}"]}
            lines.append((_label(key), _as_text(value, key)))
        return lines


# PostgreSQL's jsonb keeps no key order: what an event is about first, the rest alphabetically.
FIRST = (
    *("destination", "provider", "email", "role", "fields", "recipients", "messages", "estimate"),
    *("opted_out", "contacts", "changed", "created", "updated", "unchanged", "rejected"),
)


def _reading_order(item) -> tuple[int, str]:
    key = item[0].removeprefix("old_")
    return (FIRST.index(key) if key in FIRST else len(FIRST), key)


LABELS = {
    "api_base_url": "API host",
    "fields": "credentials",
    "start_at": "starts",
    "email": "e-mail address",
    "expires_at": "link works until",
    "source": "where",  # the contact book's: "page", "contacts page", "API", "import", ...
    "opted_out": "numbers opted out",
    "values_dropped": "values deleted",
}


def _label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


def _as_text(value, key: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_as_text(v, key) for v in value) or "none"
    if isinstance(value, dict):
        if set(value) == {"old", "new"}:
            return f"{_as_text(value['old'], key)} → {_as_text(value['new'], key)}"
        return "; ".join(f"{_label(k)} {_as_text(v, k)}" for k, v in value.items())
    if key.endswith("role") and value in Role.values:
        return Role(value).label
    if key == "fields":
        return str(value).replace("_", " ")
    if key.endswith("_at") and (moment := parse_datetime(str(value))) is not None:
        return date_format(timezone.localtime(moment), "j M Y, H:i")
    return str(value)
