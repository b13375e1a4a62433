"""Segments, prices, charging and refunds: what every emulator does when it accepts messages."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from core import sms_parts
from providers import registry
from providers.sandbox import delivery
from providers.sandbox.models import Charge, SandboxAccount, SandboxCampaign, SandboxMessage


def is_gsm7(text: str) -> bool:
    return sms_parts.is_gsm7(text)


def segments(text: str) -> int:
    """SMS parts for ``text``, as a handset and an SMSC split it (core.sms_parts): 160/153
    GSM-7 septets, an extension character counting two, else 70/67 UCS-2 code units; a part
    never ends inside an escape pair or a surrogate pair, which then opens the next part."""
    return max(1, sms_parts.count(text).parts)


def price(account: SandboxAccount, text: str, channel: str = "sms") -> tuple[int, Decimal]:
    """(segments, price) of one message, at the account's provider's prices."""
    emulator = registry.emulator(account.provider)
    if channel == "voice":
        return 1, emulator.voice_price(account)
    parts = segments(text)
    return parts, parts * emulator.segment_price(account)


# How many charges the request being handled wrote (faults.run reads it): counting the ledger
# instead would credit one request with what a concurrent one charged.
charged_here: ContextVar[int] = ContextVar("charged_here", default=0)


def accept(messages: Iterable[SandboxMessage], now: datetime) -> list[Charge]:
    """Mark ``messages`` accepted, debit their price and write one ledger row each."""
    messages = list(messages)
    if not messages:
        return []
    charged_here.set(charged_here.get() + len(messages))
    account = messages[0].campaign.account
    ids = [m.pk for m in messages]
    with transaction.atomic():
        SandboxMessage.objects.filter(pk__in=ids).update(accepted_at=now)
        charges = Charge.objects.bulk_create(
            Charge(
                account=account,
                message=m,
                reference=m.reference,
                phone=m.phone,
                amount=m.price,
                created_at=now,
            )
            for m in messages
        )
        total = sum((m.price for m in messages), Decimal("0"))
        SandboxAccount.objects.filter(pk=account.pk).update(balance=F("balance") - total)
    for m in messages:
        m.accepted_at = now
    return charges


def refund_unsent(campaign: SandboxCampaign, at: datetime) -> Decimal:
    """Refund the messages that stopping or deleting ``campaign`` cut off for good (stage
    ``cancelled``: never handed over), and return the amount. Call it once ``stopped_at`` or
    ``deleted_at`` is set. A message handed over before the stop stays charged, even one still
    ``queued`` on its way to being rejected: the provider reports its outcome, so it was billed.
    """
    unsent = [
        m.pk
        for m in campaign.messages.filter(accepted_at__isnull=False)
        if message_stage(m, campaign, at) == "cancelled"
    ]
    with transaction.atomic():
        charges = Charge.objects.active().filter(message_id__in=unsent)
        total = charges.total()
        charges.update(refunded_at=at)
        SandboxAccount.objects.filter(pk=campaign.account_id).update(balance=F("balance") + total)
    return total


def charged(campaign: SandboxCampaign) -> dict[int, Decimal]:
    """{message id: what stays charged for it}; a message never charged, or refunded, is
    absent."""
    amounts: dict[int, Decimal] = {}
    charges = Charge.objects.active().filter(message__campaign=campaign)
    for message_id, amount in charges.values_list("message_id", "amount"):
        amounts[message_id] = amounts.get(message_id, Decimal("0")) + amount
    return amounts


def message_start(message: SandboxMessage, campaign: SandboxCampaign) -> datetime | None:
    if message.accepted_at is None:
        return None
    if campaign.start_at and campaign.start_at > message.accepted_at:
        return campaign.start_at
    return message.accepted_at


def message_stage(message: SandboxMessage, campaign: SandboxCampaign, now: datetime) -> str:
    if campaign.deleted_at:
        return "cancelled"
    return delivery.stage(
        message.reference, message_start(message, campaign), now, campaign.stopped_at
    )


def campaign_stages(campaign: SandboxCampaign, now: datetime):
    """(message, stage) for every message of the campaign, in id order."""
    messages = campaign.messages.order_by("pk")
    return [(m, message_stage(m, campaign, now)) for m in messages]
