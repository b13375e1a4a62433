"""Use cases on campaigns shared by views and tasks: clone and delete (launch, stop and retry
join them with the sending engine)."""

from __future__ import annotations

from django.db import connection, transaction

from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus

# Fields a clone copies; everything about sending (status, reasons, times) starts afresh.
_COPIED = [
    "workspace",
    "channel",
    "account",
    "sender",
    "text",
    "voice_kind",
    "ssml",
    "announcement_id",
    "voice",
    "language",
    "voice_category",
    "placeholder_policy",
    "rate_limit",
    "rate_period",
    "validity_minutes",
    "flash",
]

# A new reference per copied message, made by the database so a million rows copy in one
# statement: 32 hex characters like references(), random instead of time-ordered.
_NEW_REFERENCE = {
    "postgresql": "md5(random()::text || clock_timestamp()::text || m.id::text)",
    "sqlite": "lower(hex(randomblob(16)))",
}


class CampaignRuleError(Exception):
    """The campaign is not in a state that allows this; the message says what to do."""


def clone(campaign: Campaign, user, name: str = "") -> Campaign:
    """A new draft with the same content, options and recipients (as pending messages)."""
    with transaction.atomic():
        copy = Campaign.objects.create(
            **{field: getattr(campaign, field) for field in _COPIED},
            name=name or f"Copy of {campaign.name}"[:200],
            created_by=user,
        )
        _copy_recipients(campaign, copy)
    return copy


def _copy_recipients(source: Campaign, target: Campaign) -> None:
    table = Message._meta.db_table
    columns = "phone, country, number_type, row_number, fields"
    now = connection.ops.adapt_datetimefield_value(target.created_at)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, reference, status, provider_message_id, "
            f"error_code, error_reason, created_at, updated_at, {columns}) "
            f"SELECT %s, {_NEW_REFERENCE[connection.vendor]}, %s, '', '', '', %s, %s, "
            f"{columns} FROM {table} m WHERE m.campaign_id = %s ORDER BY m.id",
            [target.pk, MessageStatus.PENDING.value, now, now, source.pk],
        )


def delete(campaign: Campaign) -> None:
    """Deletes a draft with its recipients. A campaign that sent anything is kept as a record."""
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignRuleError(
            "Only a draft can be deleted; a campaign that was launched stays as the record of "
            "what was sent."
        )
    campaign.delete()
