"""What the launch checks let through is what the provider takes, for every provider, channel and
option the compose forms offer: each campaign either passes the launch checks and has its first
batch accepted by the sandbox (through the real adapter, over HTTP), or is refused by the checks
before launch, and then ``submit`` refuses it too, before any request.

The cases are generated from the adapters' capabilities, so a new capability or provider is
covered without a new test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns import services
from campaigns.compose import pricing
from campaigns.compose.outgoing import messages_for, refusals, spec_for
from campaigns.models import Campaign, Channel, Message
from core.statuses import MessageStatus
from providers import registry
from providers.base import BatchState, VoicePayload
from providers.bsg.emulator import VOICE_PRICE
from providers.errors import InvalidRequest, NotSupported
from providers.models import Rate
from providers.sandbox.models import Charge
from tests.sendkit import SENDER, sandbox_account

pytestmark = pytest.mark.django_db(transaction=True)

CYRILLIC = "Привет, скидка 20% сегодня"
SSML = "<speak>Your table is ready.</speak>"


def sms_cases(caps):
    yield "plain", {"text": "Sale today"}
    yield "template", {"text": "Hi {name}, sale today"}
    yield "unicode", {"text": CYRILLIC}
    yield "no sender", {"text": "Sale today", "sender": ""}
    yield "flash", {"text": "Sale today", "flash": True}
    yield "flash unicode", {"text": CYRILLIC, "flash": True}
    for bound in (caps.min_validity, caps.max_validity):
        if bound is not None:
            minutes = int(bound.total_seconds() // 60)
            yield f"validity {minutes}", {"text": "Sale today", "validity_minutes": minutes}
    yield "validity 1", {"text": "Sale today", "validity_minutes": 1}
    yield "rate limit", {"text": "Sale today", "rate_limit": 100, "rate_period": 60}


def voice_cases(caps):
    content = {"tts": {"text": "Your table is ready."}, "ssml": {"ssml": SSML}}
    content["announcement"] = {"announcement_id": "5b7c78389fe80f7b60af688989"}
    voice = caps.voices[0][0] if caps.voices else ""
    language = caps.voice_languages[0][0] if caps.voice_languages else ""
    for kind, fields in content.items():
        yield f"voice {kind}", {"voice_kind": kind, "voice": voice, "language": language} | fields
    for value, _label in caps.voices:
        yield f"voice {value}", {"voice_kind": "tts", "text": "Hi", "voice": value}
    for value, _label in caps.voice_languages:
        yield f"language {value}", {"voice_kind": "tts", "text": "Hi", "language": value}
    if caps.voices:
        yield "no voice", {"voice_kind": "tts", "text": "Hi", "voice": "", "language": language}


def cases():
    for slug in registry.PROVIDERS:
        caps = registry.get(slug).capabilities
        for channel, generate in (("sms", sms_cases), ("voice", voice_cases)):
            for name, fields in generate(caps):
                yield pytest.param(slug, channel, fields, id=f"{slug}-{channel}-{name}")


@pytest.fixture
def draft(acme, live_server):
    def make(slug: str, channel: str, fields: dict) -> Campaign:
        account, _remote = sandbox_account(acme.workspace, slug, live_server.url)
        defaults = {"sender": SENDER if channel == Channel.SMS else "", "voice_kind": ""}
        campaign = Campaign.objects.create(
            workspace=acme.workspace,
            account=account,
            name="Matrix",
            channel=channel,
            **(defaults | fields),
        )
        Message.objects.bulk_create(
            Message(campaign=campaign, phone=f"+7701{n:07d}", country="KZ", fields={"name": "Ann"})
            for n in range(3)
        )
        return campaign

    return make


def first_batch(campaign: Campaign):
    pending = campaign.messages.filter(status=MessageStatus.PENDING)
    return spec_for(campaign, sending=True), messages_for(campaign, pending)


@pytest.mark.parametrize(("slug", "channel", "fields"), list(cases()))
def test_what_passes_the_launch_checks_is_accepted_and_what_fails_is_refused(
    draft, slug, channel, fields
):
    campaign = draft(slug, channel, fields)
    spec, batch = first_batch(campaign)
    refused = refusals(campaign)

    with campaign.account.adapter() as adapter:
        if not refused:
            assert services.content_problems(campaign) == []
            submission = adapter.submit(spec, batch, BatchState(key=f"m{campaign.pk}"))
            assert [r.accepted for r in submission.results] == [True] * len(batch)
        else:
            problems = services.content_problems(campaign)
            assert all(any(r.message in p for p in problems) for r in refused)
            with pytest.raises((InvalidRequest, NotSupported)) as error:
                adapter.submit(spec, batch, BatchState(key=f"m{campaign.pk}"))
            assert str(error.value) == refused[0].message


def test_a_bsg_voice_estimate_is_what_the_sandbox_bills(draft):
    campaign = draft("bsg", "voice", {"voice_kind": "tts", "text": "Hi", "voice": "sonya"})
    campaign.language = "en"
    campaign.save()
    Rate.objects.create(account=campaign.account, country="KZ", price=Decimal("0.035"))
    Rate.objects.create(account=campaign.account, channel="voice", country="KZ", price=VOICE_PRICE)
    spec, batch = first_batch(campaign)

    with campaign.account.adapter() as adapter:
        adapter.submit(spec, batch, BatchState(key="bill"))

    billed = sum(
        Charge.objects.filter(phone__in=[m.digits for m in batch]).values_list("amount", flat=True),
        Decimal(0),
    )
    assert pricing.price(campaign).total == billed == 3 * VOICE_PRICE


def test_every_provider_and_channel_is_covered():
    covered = {(slug, channel) for slug, channel, _ in (p.values for p in cases())}
    assert covered == {
        (slug, channel) for slug in registry.PROVIDERS for channel in ("sms", "voice")
    }
    assert VoicePayload().kind == "tts"
