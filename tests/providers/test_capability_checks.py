"""An adapter refuses, before sending anything, what its provider would take wrongly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from providers import registry
from providers.base import BatchState, CampaignSpec, OutgoingMessage, VoicePayload
from providers.errors import InvalidRequest, NotSupported

CREDENTIALS = {
    "bsg": {"api_key": "live_k"},
    "mobizon": {"api_key": "k" * 40, "domain": "mobizon.kz"},
    "smsdrop": {"email": "a@example.com", "password": "p"},
    "conpeek": {"api_key": "k", "tenant_url": "https://t.example.com", "voice_campaign_id": "1"},
}


def adapter(slug):
    def refuse(request):
        raise AssertionError(f"no request may be sent, got {request.method} {request.url}")

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    return registry.get(slug)(base_url="", credentials=CREDENTIALS[slug], client=client)


def message(n=0, **kwargs):
    return OutgoingMessage(reference=f"ref{n:029d}", phone="+77011234567", **kwargs)


def submit(slug, spec, messages):
    return adapter(slug).submit(spec, messages, BatchState(key="k"))


@pytest.mark.parametrize(
    ("slug", "spec", "messages", "error", "words"),
    [
        (
            "mobizon",
            CampaignSpec("Crier", channel="voice", text="Hi"),
            [message()],
            NotSupported,
            "Mobizon does not offer voice campaigns",
        ),
        (
            "smsdrop",
            CampaignSpec("Crier", text="Hi"),
            [message(text="Hi Ann")],
            NotSupported,
            "smsdrop does not offer a different text per recipient",
        ),
        (
            "conpeek",
            CampaignSpec(
                "",
                channel="voice",
                voice=VoicePayload(text="Hi"),
                start_at=datetime.now(UTC) + timedelta(hours=3),
            ),
            [message()],
            NotSupported,
            "Conpeek does not offer a scheduled start",
        ),
        (
            "bsg",
            CampaignSpec(
                "Crier", channel="voice", voice=VoicePayload("Hi", voice="sonya", language="en")
            ),
            [message(voice=VoicePayload(text="Hi Ann"))],
            NotSupported,
            "BSG does not offer a different voice message per recipient",
        ),
        (
            "bsg",
            CampaignSpec("Crier", text="Hi", flash=True),
            [message()],
            NotSupported,
            "BSG does not offer flash SMS",
        ),
        (
            "bsg",
            CampaignSpec("Crier", text="Hi", validity=timedelta(hours=80)),
            [message()],
            InvalidRequest,
            "BSG keeps trying a message for 1 h to 72 h; 80 h is outside that",
        ),
        (
            "mobizon",
            CampaignSpec("Crier", text="Hi", validity=timedelta(minutes=30)),
            [message()],
            InvalidRequest,
            "1 h to 24 h; 30 min is outside",
        ),
        (
            "smsdrop",
            CampaignSpec("Crier", text="Hi", validity=timedelta(hours=2)),
            [message()],
            NotSupported,
            "smsdrop does not offer a validity period",
        ),
    ],
)
def test_unsupported_requests_are_refused_before_sending(slug, spec, messages, error, words):
    with pytest.raises(error, match=words):
        submit(slug, spec, messages)


def test_a_batch_over_the_limit_is_refused():
    messages = [message(n) for n in range(1_001)]
    with pytest.raises(InvalidRequest, match="at most 1,000 messages per batch; this one has"):
        submit("conpeek", CampaignSpec("", channel="voice", voice=VoicePayload(text="x")), messages)
