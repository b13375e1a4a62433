"""A campaign as the provider receives it: the shared spec and one OutgoingMessage a recipient.

Pricing (the provider's quote) and sending build their requests here, so what is quoted is what
is sent. A template campaign goes out rendered per recipient under its placeholder policy.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform, compile_json_path

from campaigns import audiences
from campaigns.compose.templating import Template, has_placeholders
from campaigns.models import Campaign, Channel, VoiceKind
from providers.base import CampaignSpec, OutgoingMessage, Refusal, VoicePayload


def spec_for(
    campaign: Campaign, *, sending: bool = False, account=None, sender: str = ""
) -> CampaignSpec:
    """What every message shares. ``sending`` adds the options that shape delivery (validity,
    flash, the provider-side rate limit); Crier starts scheduled campaigns itself, so no start
    time is ever passed to the provider. ``account`` and ``sender``: the route a batch goes
    through (Batch.account, Batch.sender) when not the campaign's own."""
    account = account or campaign.account
    spec = CampaignSpec(
        sender=sender or campaign.sender, channel=campaign.channel, name=campaign.name
    )
    if campaign.channel == Channel.VOICE:
        if not personal_calls(campaign):
            spec = replace(spec, voice=_voice(campaign, campaign.text))
    elif not has_placeholders(campaign.text):
        spec = replace(spec, text=campaign.text)
    if not sending:
        return spec
    if campaign.validity_minutes:
        spec = replace(spec, validity=timedelta(minutes=campaign.validity_minutes))
    if campaign.flash and campaign.channel == Channel.SMS:
        spec = replace(spec, flash=True)
    if campaign.rate_limit and account.adapter_class.capabilities.rate_limit:
        period = timedelta(seconds=campaign.rate_period or 60)
        spec = replace(spec, rate_limit=campaign.rate_limit, rate_period=period)
    return spec


def _voice(campaign: Campaign, text: str) -> VoicePayload:
    # Only the chosen kind's content: a recording left from an earlier choice is not sent.
    kind = campaign.voice_kind or VoiceKind.TTS
    return VoicePayload(
        text=text if kind == VoiceKind.TTS else "",
        ssml=campaign.ssml if kind == VoiceKind.SSML else "",
        announcement_id=campaign.announcement_id if kind == VoiceKind.ANNOUNCEMENT else "",
        voice=campaign.voice,
        language=campaign.language,
        category=campaign.voice_category or "marketing",
    )


def personal_calls(campaign: Campaign) -> bool:
    """A voice campaign whose every call reads its own text: the API's single calls
    (campaigns.transactional), each message's rendered text under its template ``{text}``.
    Other voice campaigns read one text to all."""
    return (
        campaign.channel == Channel.VOICE
        and campaign.transactional
        and (campaign.voice_kind or VoiceKind.TTS) == VoiceKind.TTS
        and has_placeholders(campaign.text)
    )


def refusals(campaign: Campaign) -> list[Refusal]:
    """Why the account's provider would refuse this campaign's batches, by the adapter's own
    rules (ProviderAdapter.refusals, which ``submit`` applies) on the campaign as it would be
    sent. The compose forms, the preview, the launch page and the launch all ask here, so a
    campaign they let through is one the provider takes."""
    if campaign.account is None:
        return []
    personalised = campaign.channel == Channel.SMS and has_placeholders(campaign.text)
    # One recipient stands for all: a template makes each one's text its own.
    probe = OutgoingMessage("0" * 32, "", text=campaign.text if personalised else None)
    if personal_calls(campaign):
        probe = OutgoingMessage("0" * 32, "", voice=_voice(campaign, campaign.text))
    return campaign.account.adapter_class.refusals([probe], spec_for(campaign, sending=True))


def messages_for(campaign: Campaign, messages: QuerySet) -> list[OutgoingMessage]:
    """``messages`` (of ``campaign``) as the provider receives them, in primary-key order."""
    messages = messages.order_by("pk")
    if personal_calls(campaign):
        template = Template(campaign.text, campaign.placeholder_policy)
        rows = with_values(messages, template, "reference")
        return [
            OutgoingMessage(ref, phone, voice=_voice(campaign, template.fill(v)))
            for ref, phone, _, *v in rows
        ]
    if campaign.channel == Channel.VOICE or not has_placeholders(campaign.text):
        rows = messages.values_list("reference", "phone")
        return [OutgoingMessage(ref, phone) for ref, phone in rows]
    template = Template(campaign.text, campaign.placeholder_policy)
    rows = with_values(messages, template, "reference")
    return [OutgoingMessage(ref, phone, text=template.fill(v)) for ref, phone, _, *v in rows]


def contacts_for(campaign: Campaign) -> list[OutgoingMessage]:
    """The live audience's contacts (campaigns.audiences.contacts: lists and segments less
    exclusions, opt-outs and the campaign's own numbers) as ``messages_for`` would give them
    once the launch made them messages: each with its own values in the text. For the
    provider's quote; each gets a fresh reference, as its message would at the launch."""
    rows = audiences.contacts(campaign).values_list("phone", "name", "language", "fields")
    if campaign.channel == Channel.VOICE or not has_placeholders(campaign.text):
        return [OutgoingMessage(uuid.uuid4().hex, phone) for phone, *_ in rows.iterator(5_000)]
    template = Template(campaign.text, campaign.placeholder_policy)
    outgoing = []
    for phone, name, language, fields in rows.iterator(5_000):
        values = {**(fields or {}), "name": name, "language": language}  # audiences.values_of
        text = template.fill([values.get(n) for n in template.names])
        outgoing.append(OutgoingMessage(uuid.uuid4().hex, phone, text=text))
    return outgoing


def with_values(messages: QuerySet, template: Template, *first: str) -> QuerySet:
    """Rows of (*first, phone, country, value of each placeholder): the database pulls the
    values out of the JSON, several times faster than decoding every row's fields here.

    A missing key or a JSON null reads as None, on PostgreSQL and SQLite alike.
    """
    values = {f"value_{i}": JsonText(name, "fields") for i, name in enumerate(template.names)}
    return messages.annotate(**values).values_list(*first, "phone", "country", *values)


class JsonText(KeyTextTransform):
    """A placeholder's value as text, read the same way for the price and for sending. On
    SQLite one ``->>`` lookup instead of Django's three (a third faster), and a JSON null reads
    as None, as on PostgreSQL."""

    def as_sqlite(self, compiler, connection):
        lhs, params, key_transforms = self.preprocess_lhs(compiler, connection)
        return f"({lhs} ->> %s)", (*params, compile_json_path(key_transforms))
