"""Conpeek adapter: the documented request_list call and its 403/404 answers."""

from __future__ import annotations

import pytest

from providers.base import BatchState, CampaignSpec, VoicePayload
from providers.conpeek.adapter import ConpeekAdapter
from providers.errors import AuthError, InvalidRequest, NotFound, NotSupported
from tests.providers.conftest import CONPEEK_KEY, body_json, message

CAMPAIGN = "5b7c389fe8df7b60af688989"
URL = f"https://acme.conpeek.com/voice_sms_campaign/{CAMPAIGN}/request_list"


def voice_spec(**voice):
    return CampaignSpec(sender="", channel="voice", voice=VoicePayload(**voice))


def test_announcement_request_is_the_documented_example(api, conpeek):
    route = api.post(URL).respond(200, json={"data": [{"id": "req-1"}]})
    spec = voice_spec(announcement_id="5b7c78389fe80f7b60af688989")
    submission = conpeek.submit(spec, [message("+48987654321", "r1")], BatchState())
    request = route.calls[0].request
    assert request.headers["Authorization"] == CONPEEK_KEY  # raw key, no "Bearer"
    assert request.headers["Content-Type"] == "application/json"
    assert body_json(request) == {
        "type": "announcement",
        "announcement_id": "5b7c78389fe80f7b60af688989",
        "data": [{"contact_number": "48987654321", "custom": {"reference": "r1"}}],
    }
    assert submission.provider_campaign_id == CAMPAIGN
    assert [(r.reference, r.accepted, r.provider_message_id) for r in submission.results] == [
        ("r1", True, "req-1")
    ]


def test_tts_with_per_contact_text_ssml_and_voice(api, conpeek):
    route = api.post(URL).respond(200, json={"data": []})
    batch = [
        message("+48123123123", "a", voice=VoicePayload(text="Witaj Anna", voice="v1")),
        message("+48123123124", "b", voice=VoicePayload(ssml="<speak>Hi</speak>")),
    ]
    conpeek.submit(CampaignSpec(sender="", channel="voice"), batch, BatchState())
    assert body_json(route.calls[0].request) == {
        "type": "tts",
        "data": [
            {
                "contact_number": "48123123123",
                "text": "Witaj Anna",
                "voice_definition_id": "v1",
                "custom": {"reference": "a"},
            },
            {
                "contact_number": "48123123124",
                "ssml": "<speak>Hi</speak>",
                "custom": {"reference": "b"},
            },
        ],
    }


def test_type_none_when_there_is_nothing_to_play(api, conpeek):
    route = api.post(URL).respond(200, json={"data": []})
    conpeek.submit(voice_spec(), [message("+48123")], BatchState())
    assert body_json(route.calls[0].request)["type"] == "none"


def test_a_batch_cannot_mix_recordings_and_tts(api, conpeek):
    batch = [
        message("+481", voice=VoicePayload(announcement_id="x")),
        message("+482", voice=VoicePayload(text="hi")),
    ]
    with pytest.raises(InvalidRequest):
        conpeek.submit(CampaignSpec(sender="", channel="voice"), batch, BatchState())
    assert api.calls.call_count == 0


def test_403(api, conpeek):
    api.post(URL).respond(403)
    with pytest.raises(AuthError, match="Conpeek refused this action") as caught:
        conpeek.submit(voice_spec(text="hi"), [message("+48123")], BatchState())
    assert CONPEEK_KEY not in str(caught.value) + caught.value.detail


def test_404(api, conpeek):
    api.post(URL).respond(404)
    with pytest.raises(NotFound, match="no voice SMS campaign"):
        conpeek.submit(voice_spec(text="hi"), [message("+48123")], BatchState())


def test_capabilities_and_unsupported_operations(conpeek):
    caps = ConpeekAdapter.capabilities
    assert caps.channels == frozenset({"voice"})
    assert not (caps.campaign_stats or caps.account_info or caps.scheduling or caps.stop)
    with pytest.raises(NotSupported):
        conpeek.campaign_stats(CAMPAIGN)
    with pytest.raises(NotSupported):
        conpeek.account_info()
