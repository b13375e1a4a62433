"""Single transactional messages (the API's POST /api/v1/messages): each joins an open
campaign of its own kind, one per account, sender name and channel, which never finishes, so
the same at-most-once engine, polling, counters and statuses carry it. Its text (what a call
reads aloud, on the voice channel) is the message's own: the campaign's template is
``{text}`` and each message holds its rendered text under that name
(campaigns.compose.outgoing.personal_calls gives each call its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from campaigns import grouped, open_route
from campaigns.compose import outgoing
from campaigns.compose.templating import render
from campaigns.models import Campaign, Channel, Message, PlaceholderPolicy, VoiceKind
from campaigns.sending import engine
from contacts import book
from core import phones
from core.columns import placeholders_in
from core.queue import enqueue
from core.rejections import Rejection
from core.statuses import CampaignStatus
from providers.models import ProviderAccount, SenderName

TEXT = "text"  # the placeholder that carries each message's own text
OPEN = open_route.OPEN


class Refused(Exception):
    """The message cannot be sent: ``field`` names the input, the message says why."""

    def __init__(self, field: str, message: str, *, opted_out: bool = False):
        super().__init__(message)
        self.field = field
        self.opted_out = opted_out


@dataclass(frozen=True)
class Accepted:
    message: Message
    campaign: Campaign


def _number(default_country: str, account, to: str) -> phones.Normalised:
    result = phones.normalise(to, default_country, account.allowed_country_set())
    if isinstance(result, Rejection):
        raise Refused("to", f"“{to}”: {result.reason}")
    return result


def _text(text: str, fields: dict) -> str:
    names = placeholders_in(text)
    missing = [name for name in names if name not in fields]
    if missing:
        raise Refused(
            "fields", f"No value for the placeholder {{{missing[0]}}}: add it to ``fields``."
        )
    return render(text, fields) if names else text


def _open_campaign(
    workspace, account_id: int, sender: str, channel: str, spoken: dict
) -> Campaign | None:
    found = Campaign.objects.select_related("account").filter(
        workspace=workspace,
        transactional=True,
        account_id=account_id,
        sender=sender,
        channel=channel,
        status__in=OPEN,
        **{name: spoken[name] for name in ("voice", "language") if name in spoken},
    )
    return found.order_by("pk").first()


def _new_campaign(workspace, account, sender: str, channel: str, user, spoken: dict) -> Campaign:
    """The first message of (account, sender, channel): its campaign, checked and made."""
    if (
        sender
        and not account.senders.filter(value=sender, status=SenderName.Status.APPROVED).exists()
    ):
        raise Refused("sender", f"“{sender}” is not an approved sender name of this account.")
    caps = account.adapter_class.capabilities
    if channel not in caps.channels:
        raise Refused(
            "channel",
            f"{account.get_provider_display()} does not send {Channel(channel).label.lower()} "
            "messages: choose an account whose provider does, or another channel.",
        )
    if channel == Channel.SMS and not sender and caps.sms_sender_required:
        raise Refused("sender", f"{account.get_provider_display()} needs a sender name.")
    now = timezone.now()
    with transaction.atomic():
        # One per (account, sender, channel): concurrent first messages wait for each other.
        type(account).objects.select_for_update().filter(pk=account.pk).exists()
        found = _open_campaign(workspace, account.pk, sender, channel, spoken)
        if found is not None:
            return found
        label = f"API messages · {account.name}" + (f" · {sender}" if sender else "")
        return Campaign.objects.create(
            workspace=workspace,
            transactional=True,
            name=label[:200],
            channel=channel,
            account=account,
            sender=sender,
            text="{" + TEXT + "}",
            placeholder_policy=PlaceholderPolicy.KEEP,
            **spoken,
            status=CampaignStatus.SENDING,
            launched_at=now,
            launched_by=user,
            created_by=user,
            next_poll_at=now,
        )


def _spoken(account, voice: str, language: str) -> dict:
    """How a call reads its text aloud: in the ``voice`` and ``language`` asked for, each one
    the provider documents, else in its default (the first it documents), as a transactional
    call where the provider asks what a call is for. Calls of each voice and language go
    through an open campaign of their own."""
    caps = account.adapter_class.capabilities
    chosen = {}
    for name, value, choices in (
        ("voice", voice, caps.voices),
        ("language", language, caps.voice_languages),
    ):
        if value and not choices:
            raise Refused(
                name,
                f"{account.get_provider_display()} does not let a call choose "
                f"its {name}: leave {name} out.",
            )
        if value and value not in dict(choices):
            known = ", ".join(code for code, _ in choices)
            raise Refused(
                name,
                f"{account.get_provider_display()} knows the {name}s {known}: choose one of them.",
            )
        chosen[name] = value or (choices[0][0] if choices else "")
    categories = dict(caps.voice_categories)
    return {
        "voice_kind": VoiceKind.TTS,
        **chosen,
        "voice_category": "transactional" if "transactional" in categories else "",
    }


def send(
    workspace,
    user,
    *,
    account_id: int,
    to: str,
    text: str,
    sender: str = "",
    channel: str = Channel.SMS,
    fields: dict | None = None,
    voice: str = "",
    language: str = "",
) -> Accepted:
    """Accepts one message (an SMS, or a call that reads ``text`` aloud, in ``voice`` and
    ``language`` or the provider's defaults) for sending now and returns it (pending); a
    worker hands it over within moments. Raises Refused for what would never be sent. Three
    statements once the route's campaign exists (find it with its account, check the opt-out,
    insert), a fourth to wake a worker when none holds it; a call reads its account first."""
    spoken, account = {}, None
    if channel == Channel.VOICE:
        account = _account(workspace, account_id)
        if channel in account.adapter_class.capabilities.channels:
            spoken = _spoken(account, voice, language)
    elif voice or language:
        raise Refused(
            "voice" if voice else "language",
            "Only a call has a voice and a "
            "language: leave them out of an SMS, or send a call (channel voice).",
        )
    campaign = _open_campaign(workspace, account_id, sender, channel, spoken)
    if campaign is not None:
        account = campaign.account
    account = account or _account(workspace, account_id)
    number, body = _checked(workspace.default_country, account, to, text, fields)
    if campaign is None:
        campaign = _new_campaign(workspace, account, sender, channel, user, spoken)
    _check_text(campaign, account, body)
    if book.opted_out_phones(workspace.pk).filter(phone=number.e164).exists():
        raise Refused("to", f"{number.e164} opted out: nothing was sent.", opted_out=True)
    with transaction.atomic():
        if not open_route.still_open(campaign.pk):  # stopped since it was read
            campaign = _new_campaign(workspace, account, sender, channel, user, spoken)
        message = _row(workspace.pk, campaign, number, body).message(timezone.now())
        message.save(force_insert=True)
    wake(campaign)
    return Accepted(message, campaign)


def _checked(default_country: str, account, to: str, text: str, fields: dict | None):
    """The number and the text to send, or Refused."""
    if not account.is_active:
        raise Refused("account", "This provider account is switched off; switch it on first.")
    number = _number(default_country, account, to)
    body = _text(text, fields or {})
    if not body.strip():
        raise Refused("text", "Write the message to send.")
    return number, body


def _check_text(campaign: Campaign, account, body: str, *, copy: bool = True) -> None:
    """Refused if the provider would refuse ``body`` from this campaign; ``copy=False`` lets
    the check write the text into ``campaign`` itself (an instance that is never saved)."""
    probe = campaign
    if copy:
        probe = Campaign(
            **{f.attname: getattr(campaign, f.attname) for f in Campaign._meta.concrete_fields}
        )
    probe.text = body
    probe.account = account
    for refusal in outgoing.refusals(probe):
        raise Refused(
            "text" if refusal.field in ("text", "flash") else refusal.field, refusal.message
        )


def _row(workspace_id: int, campaign: Campaign, number: phones.Normalised, body: str):
    return grouped.Row(
        workspace_id=workspace_id,
        campaign_id=campaign.pk,
        phone=number.e164,
        country=number.region if len(number.region) == 2 else "",
        number_type=number.type,
        fields={TEXT: body},
    )


@dataclass(frozen=True)
class Prepared:
    """An SMS checked and ready to store through its route's open campaign."""

    campaign: Campaign
    row: grouped.Row


def check(
    campaign: Campaign, default_country: str, *, to: str, text: str, fields: dict | None = None
) -> Prepared:
    """``send``'s checks for an SMS (refused for the same reasons, by the same words) on the
    route's open campaign read already, with its account (campaigns.open_route, which the
    API's short way reads with the key). The opt-out and whether the campaign is still open
    are read when the message is stored (``store``). Writes ``text`` into ``campaign``, an
    instance read for this message alone."""
    number, body = _checked(default_country, campaign.account, to, text, fields)
    _check_text(campaign, campaign.account, body, copy=False)
    return Prepared(campaign, _row(campaign.workspace_id, campaign, number, body))


def store(prepared: Prepared) -> Message | None:
    """Stores the prepared message with the others waiting in this process (one commit for
    all: campaigns.grouped), wakes a worker, and returns it; None when the number opted out
    (nothing stored). Raises grouped.NotStored when the database failed."""
    message = grouped.writer.store(prepared.row)
    if message is not None:
        wake(prepared.campaign)
    return message


def _account(workspace, account_id: int) -> ProviderAccount:
    account = ProviderAccount.objects.filter(workspace=workspace, pk=account_id).first()
    if account is None:
        raise Refused("account", "No provider account with this id here.")
    return account


def wake(campaign: Campaign) -> None:
    """Hands the campaign to a worker now unless one has it (beat would within 2 s)."""
    if campaign.status != CampaignStatus.SENDING:
        return  # paused: the message waits for resume
    if campaign.lease_until and campaign.lease_until > timezone.now():
        return  # a worker has it; what it lets go without seeing, beat hands out within 2 s
    if engine.take_for_worker(campaign.pk):
        # A broker that is down is logged and the lease let go: beat hands the campaign out
        # within 2 s.
        enqueue(
            "campaigns.tasks.send_campaign",
            campaign.pk,
            if_refused=partial(engine.release, campaign.pk),
        )
