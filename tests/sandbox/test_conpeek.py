"""Conpeek voice SMS emulator: the raw key in Authorization, requests added to a campaign."""

from __future__ import annotations

import pytest

from providers.sandbox import accounts

pytestmark = pytest.mark.django_db
# The docs' example request (providers/conpeek/README.md §5).
EXAMPLE = {
    "type": "announcement",
    "announcement_id": "5b7c78389fe80f7b60af688989",
    "data": [{"contact_number": "48987654321"}],
}


@pytest.fixture
def credentials(conpeek_account):
    return accounts.provision("conpeek", name=conpeek_account.name)


def post(client, credentials, body, campaign_id=None, key=None):
    campaign_id = campaign_id or credentials["voice_campaign_id"]
    return client.post(
        f"/sandbox/conpeek/voice_sms_campaign/{campaign_id}/request_list",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=key if key is not None else credentials["api_key"],
    )


def test_docs_example_is_accepted(client, credentials):
    response = post(client, credentials, EXAMPLE)
    assert response.status_code == 200
    [request] = response.json()["data"]
    assert request["contact_number"] == "48987654321"
    assert request["type"] == "announcement"
    assert request["voice_sms_campaign_id"] == credentials["voice_campaign_id"]


def test_bad_key_is_403(client, credentials):
    assert post(client, credentials, EXAMPLE, key="wrong").status_code == 403
    assert post(client, credentials, EXAMPLE, key="").status_code == 403


def test_bearer_scheme_is_not_the_raw_key(client, credentials):
    response = post(client, credentials, EXAMPLE, key=f"Bearer {credentials['api_key']}")
    assert response.status_code == 403


def test_unknown_campaign_is_404(client, credentials):
    assert (
        post(client, credentials, EXAMPLE, campaign_id="5b7c389fe8df7b60af688989").status_code
        == 404
    )


def test_foreign_campaign_is_404(client, credentials):
    other = accounts.provision("conpeek", name="Other")
    response = post(client, credentials, EXAMPLE, campaign_id=other["voice_campaign_id"])
    assert response.status_code == 404


def test_tts_with_text_ssml_voice_and_reference(client, credentials):
    body = {
        "type": "tts",
        "data": [
            {
                "contact_number": "48123123123",
                "text": "Witaj",
                "voice_definition_id": "5b3c78874fe80o7c60af632189",
                "custom": {"reference": "c0ffee01"},
            },
            {
                "contact_number": "48123123124",
                "ssml": 'Here are <say-as interpret-as="characters">SSML</say-as> samples',
                "custom": {"reference": "c0ffee02"},
            },
        ],
    }
    response = post(client, credentials, body)
    assert response.status_code == 200
    first, second = response.json()["data"]
    assert first["custom"] == {"reference": "c0ffee01"} and first["text"] == "Witaj"
    assert second["ssml"].startswith("Here are")
    assert accounts.charges("c0ffee01") == accounts.charges("c0ffee02") == 1


def test_sending_a_reference_twice_is_counted_twice(client, credentials):
    body = {
        "type": "none",
        "data": [{"contact_number": "48123123123", "custom": {"reference": "r1"}}],
    }
    post(client, credentials, body)
    post(client, credentials, body)
    assert accounts.charged_more_than_once() == {"r1": 2}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "announcement", "data": [{"contact_number": "48987654321"}]}, "announcement_id"),
        ({"type": "tts", "data": [{"contact_number": "48987654321"}]}, "data.0.text"),
        ({"type": "fax", "data": [{"contact_number": "48987654321"}]}, "type"),
        ({"type": "none", "data": []}, "data"),
        ({"type": "none", "data": [{"contact_number": "+48 987"}]}, "data.0.contact_number"),
    ],
)
def test_invalid_requests_name_the_field(client, credentials, body, field):
    response = post(client, credentials, body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
