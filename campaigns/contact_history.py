"""A contact's history across the workspace's campaigns, and what is done with it: the messages
sent to their number, their estimated prices, the JSON export of everything Crier holds about
them, their erasure. The dates segments read (``Contact.last_sent_at``, ``last_delivered_at``)
are campaigns.engagement's.

Messages are tied to a contact by number, not by key: a campaign's recipients come from files as
well as from the book, and a message outlives the contact it went to. The ``message_phone``
index finds one number's messages among millions (migration 0016).

Erasure replaces the number in every message of the workspace with ``erased_phone(number)``, a
keyed one-way hash that fits the column, and clears the message's fields (the name and values
it was personalised with). Statuses, times, batches and so the counters and costs stay as they
were. Retries and clones skip erased messages (``ERASED_PREFIX``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.log import record
from audit.models import Action
from campaigns import audiences, erasure_imports, number_index, status_events
from campaigns.compose.templating import render
from campaigns.models import ERASED_PREFIX, Campaign, Channel, Message, MessageDigits
from contacts.models import Contact, ContactField, ListMember
from core.sms_parts import count
from core.statuses import PENDING, MessageStatus
from providers.models import RateCard
from webhooks import events as webhook_events

ERASED_REASON = "The contact was erased before the message was sent."


class EraseRefused(Exception):
    """The contact cannot be erased now; the message says why and what to do."""


def messages_to(contact: Contact) -> QuerySet:
    """Every message of the contact's workspace sent (or to be sent) to their number, newest
    first, with its campaign."""
    return (
        Message.objects.filter(phone=contact.phone, campaign__workspace_id=contact.workspace_id)
        .select_related("campaign", "campaign__account")
        .order_by("-pk")
    )


@dataclass(frozen=True)
class Price:
    """Crier's estimate for one message: the account's rate for the number times its parts.
    The provider bills per batch (campaigns.tracking.costs), never per message."""

    amount: Decimal
    currency: str
    parts: int

    @property
    def figure(self) -> str:
        """At least four places (one message often costs under a cent), at most the rate
        card's six: 0.0350, 0.012345."""
        places = min(max(4, -self.amount.normalize().as_tuple().exponent), 6)
        return f"{self.amount:.{places}f}"

    def __str__(self) -> str:
        return f"{self.figure} {self.currency}".strip()


def prices(messages: list[Message]) -> dict[int, Price | None]:
    """Message pk -> its estimated price, or None where the rate card has no rate for it (or
    the campaign has no account). One rate card query per account and channel."""
    cards: dict[tuple, RateCard] = {}
    result: dict[int, Price | None] = {}
    for message in messages:
        campaign = message.campaign
        key = (campaign.account_id, campaign.channel)
        if key not in cards:
            cards[key] = RateCard.of(campaign.account, campaign.channel)
        rate = cards[key].rate_for(message.phone, message.country)
        if rate is None:
            result[message.pk] = None
            continue
        parts = _parts(campaign, message)
        currency = campaign.account.currency.upper()
        result[message.pk] = Price(rate.price * parts, currency, parts)
    return result


def _parts(campaign: Campaign, message: Message) -> int:
    if campaign.channel == Channel.VOICE:
        return 1
    return count(render(campaign.text, message.fields or {}, campaign.placeholder_policy)).parts


def text_of(campaign: Campaign, message: Message) -> str:
    """The text the message carried (or carries), as the recipient got it."""
    if campaign.channel == Channel.VOICE:
        return campaign.text
    return render(campaign.text, message.fields or {}, campaign.placeholder_policy)


# --- Export ----------------------------------------------------------------------------------


def export(contact: Contact, actor) -> dict:
    """Everything the workspace holds about the contact, as JSON-ready data; audited."""
    labels = dict(
        ContactField.objects.filter(workspace_id=contact.workspace_id).values_list("key", "label")
    )
    messages = list(messages_to(contact))
    priced = prices(messages)
    data = {
        "exported_at": _iso(timezone.now()),
        "workspace": contact.workspace.name,
        "contact": {
            "phone": contact.phone,
            "name": contact.name,
            "country": contact.country,
            "language": contact.language,
            "time_zone": contact.time_zone,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
            "last_sent_at": _iso(contact.last_sent_at),
            "last_delivered_at": _iso(contact.last_delivered_at),
        },
        "fields": [
            {"key": key, "label": labels.get(key, key), "value": value}
            for key, value in sorted(contact.fields.items())
        ],
        "lists": [
            {"name": m.contact_list.name, "added_at": _iso(m.added_at)}
            for m in contact.memberships.select_related("contact_list").order_by("added_at")
        ],
        "opt_out": {
            "opted_out": contact.opted_out,
            "at": _iso(contact.opted_out_at),
            "how": contact.get_opt_out_source_display() if contact.opt_out_source else "",
            "note": contact.opt_out_note,
        },
        "messages": [_message_data(m, priced[m.pk]) for m in messages],
    }
    record(
        contact.workspace,
        actor,
        Action.CONTACT_EXPORTED,
        f"contact {contact.pk}",
        contact_id=contact.pk,
        messages=len(messages),
    )
    return data


def _message_data(message: Message, price: Price | None) -> dict:
    campaign = message.campaign
    return {
        "campaign": campaign.name,
        "campaign_id": campaign.pk,
        "channel": campaign.channel,
        "text": text_of(campaign, message),
        "fields": message.fields,
        "status": message.status,
        "provider_status": message.raw_status,
        "error_code": message.error_code,
        "error_reason": message.error_reason,
        "attempt": message.attempt,
        "created_at": _iso(message.created_at),
        "updated_at": _iso(message.updated_at),
        "estimated_price": price.figure if price else None,
        "currency": price.currency if price else None,
        "parts": price.parts if price else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


# --- Erasure ---------------------------------------------------------------------------------


def erased_phone(phone: str) -> str:
    """The one-way stand-in for ``phone`` in past messages: the prefix and the first 9 hex
    digits of an HMAC-SHA256 keyed by SECRET_KEY, 16 characters in all (Message.phone's
    length). The same number always gives the same stand-in; without the key, the number
    cannot be found from it by trying every number."""
    digest = hmac.new(settings.SECRET_KEY.encode(), phone.encode(), hashlib.sha256).hexdigest()
    return (ERASED_PREFIX + digest)[: Message._meta.get_field("phone").max_length]


@dataclass(frozen=True)
class Erasure:
    stand_in: str  # what replaced the number
    messages: int  # messages whose number was replaced
    cancelled: int  # messages not yet handed over (drafts, live campaigns), cancelled first
    kept_opt_out: bool  # the number stays on the stop list (the contact had opted out)


def erase(contact: Contact, actor) -> Erasure:
    """Deletes the contact (their list memberships with them) and, in every message of the
    workspace to their number, replaces the number with ``erased_phone`` and clears the fields.

    An opted-out contact is not forgotten altogether: the number stays on the stop list with
    the date and source of the opt-out and nothing else (the suppression record that data
    protection guidance asks a sender to keep), so a later upload holding the number never
    messages someone who asked not to be. Opting them in first, then erasing, forgets it.

    Messages not yet handed over are cancelled first, so an erased person is never sent to; a
    message a worker is handing to the provider at this moment cannot be taken back, so the
    erasure is refused (EraseRefused) until it has gone. Audited without the number."""
    stand_in = erased_phone(contact.phone)
    workspace_campaigns = Campaign.objects.filter(workspace_id=contact.workspace_id).values("pk")
    theirs = Message.objects.filter(phone=contact.phone, campaign_id__in=workspace_campaigns)
    with transaction.atomic():
        # A launch copying the book into messages commits before this reads them, or starts
        # after this has committed (review r23).
        audiences.hold_book(contact.workspace_id, exclusive=True)
        # A claim locks the pending rows it takes (sending.engine.claim): this update waits for
        # it and then finds them submitting, or takes them first and the claim skips them.
        now = timezone.now()
        cancelled = theirs.filter(status=MessageStatus.PENDING).update(
            status=MessageStatus.CANCELLED, error_reason=ERASED_REASON, updated_at=now
        )
        in_hand = theirs.filter(status__in=PENDING).exclude(status=MessageStatus.PENDING)
        if busy := in_hand.select_related("campaign").first():
            raise EraseRefused(
                f"A message of “{busy.campaign.name}” to this number is being handed to the "
                "provider right now. Nothing was erased: try again in a minute, once it has gone."
            )
        # .update() leaves updated_at alone: the messages' times, statuses and batches stay
        # the campaign's record, and the counters (kept by triggers on status) do not move.
        # Out of the number index at once. The version first: a fill under way, which may
        # have read the number, then either is not marked complete or has committed its rows
        # before they are deleted here (campaigns.number_index).
        erased_ids = list(theirs.values_list("pk", "campaign_id"))
        number_index.changed({campaign for _, campaign in erased_ids}, added=False)
        MessageDigits.objects.filter(message_id__in=[pk for pk, _ in erased_ids]).delete()
        changed = theirs.update(phone=stand_in, fields={})
        # The webhook events told of those messages (kept for their replay) likewise.
        campaigns = {campaign for _, campaign in erased_ids}
        webhook_events.erase_phone(contact.workspace_id, campaigns, contact.phone, stand_in)
        erasure_imports.forget(contact.workspace, contact.phone, stand_in)  # and in imports
        if cancelled:  # told to webhooks under the stand-in, never the number
            erased = Message.objects.filter(phone=stand_in, updated_at=now)
            erased = erased.filter(campaign_id__in=workspace_campaigns)
            status_events.report(contact.workspace_id, erased)
        record(
            contact.workspace,
            actor,
            Action.CONTACT_ERASED,
            f"contact {stand_in}",
            contact_id=contact.pk,
            messages=changed,
            cancelled=cancelled,
            kept_on_stop_list=contact.opted_out,
        )
        if kept_opt_out := contact.opted_out:
            _strip_to_opt_out(contact)
        else:
            contact.delete()
    return Erasure(stand_in, changed, cancelled, kept_opt_out)


def _strip_to_opt_out(contact: Contact) -> None:
    """Everything of the contact but the number and the opt-out's date and source."""
    ListMember.objects.filter(contact=contact).delete()
    Contact.objects.filter(pk=contact.pk).update(
        name="",
        fields={},
        language="",
        time_zone="",
        opt_out_note="",
        last_sent_at=None,
        last_delivered_at=None,
        updated_at=timezone.now(),
    )


def campaigns_still_to_send(contact: Contact) -> list[Campaign]:
    """The campaigns (drafts and live ones) with a message to the contact not handed over yet:
    erasing cancels those messages."""
    ids = (
        Message.objects.filter(
            phone=contact.phone,
            campaign__workspace_id=contact.workspace_id,
            status__in=PENDING,
        )
        .values("campaign_id")
        .distinct()
    )
    return list(Campaign.objects.filter(pk__in=ids).order_by("name"))
