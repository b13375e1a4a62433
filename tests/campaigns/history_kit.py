"""Messages to a contact's number across campaigns, for the contact page's tests."""

from __future__ import annotations

from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus, MessageStatus


def campaign_with(tenant, name: str, phones: dict[str, str], **fields) -> Campaign:
    """A completed campaign of ``tenant`` with one message per phone, in the given status."""
    campaign = Campaign.objects.create(
        workspace=tenant.workspace,
        account=tenant.account,
        name=name,
        text=fields.pop("text", "Hi {name}"),
        status=fields.pop("status", CampaignStatus.COMPLETED),
        **fields,
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=phone, country="KZ", status=status, fields={"name": "Ann"})
        for phone, status in phones.items()
    )
    return campaign


DELIVERED = MessageStatus.DELIVERED
