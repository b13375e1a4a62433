"""smsdrop emulator: form login, one call creates and launches, 201 when credits fall short."""

from __future__ import annotations

import pytest

from providers.sandbox import accounts, clock

pytestmark = pytest.mark.django_db
BASE = "/sandbox/smsdrop/api"
JSON = "application/json"
# The body smsdrop-python 1.0.0 sends (smsdrop README §4.3): output-only fields included.
CAPTURED_V1 = {
    "message": "hi",
    "sender": "Max",
    "recipient_list": ["+22963588213"],
    "message_type": 0,
    "defer_until": None,
    "defer_by": None,
    "id": None,
    "title": "T",
    "delivery_percentage": 0,
    "message_count": 0,
    "sms_count": 1,
    "status": "PENDING",
}
# The body 0.1.0 sends: falsy values dropped.
CAPTURED_V0 = {
    "message": "hi",
    "sender": "Max",
    "recipient_list": ["+22963588213"],
    "title": "T",
    "message_type": 2,
    "defer_by": 120,
}


@pytest.fixture
def api(client, smsdrop_account):
    response = client.post(
        f"{BASE}/auth/login",
        {"username": smsdrop_account.email, "password": smsdrop_account.password},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {response.json()['access_token']}"
    return client


def launch(api, body):
    return api.post(f"{BASE}/campaigns/", body, content_type="application/json")


def test_bad_credentials_are_400(client, smsdrop_account):
    response = client.post(
        f"{BASE}/auth/login", {"username": smsdrop_account.email, "password": "wrong"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


def test_missing_token_is_401(client, smsdrop_account):
    assert client.get(f"{BASE}/users/me").status_code == 401


def test_me_and_subscription(api, smsdrop_account):
    me = api.get(f"{BASE}/users/me").json()
    assert me["email"] == smsdrop_account.email and me["is_active"] is True
    assert api.get(f"{BASE}/subscriptions/").json()["nbr_sms"] == 10_000


def test_captured_v1_body_launches_with_200_and_debits_credits(api):
    response = launch(api, CAPTURED_V1)
    assert response.status_code == 200
    campaign = response.json()
    assert campaign["status"] == "SENDING"
    assert campaign["message_count"] == 1 and campaign["sms_count"] == 1
    assert len(campaign["id"]) == 36
    assert api.get(f"{BASE}/subscriptions/").json()["nbr_sms"] == 9_999
    assert accounts.charges("T:22963588213") == 1


def test_captured_v0_body_is_scheduled_by_defer_by(api):
    response = launch(api, CAPTURED_V0)
    assert response.status_code == 200
    assert response.json()["status"] == "SCHEDULED"
    clock.advance(120 + 130)
    campaign = api.get(f"{BASE}/campaigns/{response.json()['id']}").json()
    assert campaign["status"] == "COMPLETED"


def test_missing_fields_are_422_in_fastapi_shape(api):
    response = launch(api, {"sender": "Max", "recipient_list": []})
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert locs == [["body", "message"], ["body", "recipient_list"]]
    assert all({"loc", "msg", "type"} == set(e) for e in response.json()["detail"])


def test_both_defer_fields_is_422(api):
    body = CAPTURED_V1 | {"defer_until": "2030-01-01T09:00:00+00:00", "defer_by": 60}
    assert launch(api, body).status_code == 422


def test_bad_phone_and_long_sender_are_422(api):
    body = CAPTURED_V1 | {"recipient_list": ["+22963588213", "abc"], "sender": "TwelveChars1"}
    locs = [e["loc"] for e in launch(api, body).json()["detail"]]
    assert ["body", "sender"] in locs and ["body", "recipient_list", 1] in locs


def test_not_enough_credits_is_201_created_and_retry_launches_once(api, smsdrop_account):
    smsdrop_account.balance = 1
    smsdrop_account.save()
    body = CAPTURED_V1 | {"recipient_list": ["+22963588213", "+22963588214"]}
    response = launch(api, body)
    assert response.status_code == 201
    campaign_id = response.json()["id"]
    assert response.json()["status"] == "PENDING"
    assert accounts.charges("T:22963588213") == 0
    retry = api.post(
        f"{BASE}/campaigns/retry", {"id": campaign_id}, content_type="application/json"
    )
    assert retry.status_code == 201
    smsdrop_account.balance = 10
    smsdrop_account.save()
    retry = api.post(
        f"{BASE}/campaigns/retry", {"id": campaign_id}, content_type="application/json"
    )
    assert retry.status_code == 200
    assert retry.json()["status"] == "SENDING"
    again = api.post(
        f"{BASE}/campaigns/retry", {"id": campaign_id}, content_type="application/json"
    )
    assert again.status_code == 200
    assert accounts.charges("T:22963588213") == 1
    assert api.get(f"{BASE}/subscriptions/").json()["nbr_sms"] == 8


def test_retry_of_unknown_campaign_is_404(api):
    response = api.post(f"{BASE}/campaigns/retry", {"id": "nope"}, content_type="application/json")
    assert response.status_code == 404


def test_delivery_percentage_grows_to_completion(api):
    body = CAPTURED_V1 | {"recipient_list": [f"+2296358{i:04d}" for i in range(100)]}
    campaign_id = launch(api, body).json()["id"]
    clock.advance(130)
    campaign = api.get(f"{BASE}/campaigns/{campaign_id}").json()
    assert campaign["status"] == "COMPLETED"
    assert 80 <= campaign["delivery_percentage"] < 100


def test_unicode_message_counts_parts(api):
    body = CAPTURED_V1 | {"message": "Привет " * 12, "message_type": 2}
    campaign = launch(api, body).json()
    assert campaign["sms_count"] == 2
    assert api.get(f"{BASE}/subscriptions/").json()["nbr_sms"] == 9_998


def test_list_and_unknown_campaign(api):
    launch(api, CAPTURED_V1)
    launch(api, CAPTURED_V1 | {"title": "U"})
    listed = api.get(f"{BASE}/campaigns/", {"skip": 1, "limit": 100}).json()
    assert [c["title"] for c in listed] == ["U"]
    assert api.get(f"{BASE}/campaigns/00000000-0000-0000-0000-000000000000").status_code == 404


def test_relaunching_the_same_title_shows_in_the_ledger(api):
    launch(api, CAPTURED_V1)
    launch(api, CAPTURED_V1)
    assert accounts.charged_more_than_once() == {"T:22963588213": 2}
