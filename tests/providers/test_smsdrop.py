"""smsdrop adapter: form login, 200 launched vs 201 created-but-not-launched, derived counters."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest

from providers.base import BatchState, CampaignSpec
from providers.errors import AuthError, InvalidRequest, NotFound, NotSupported, UnknownOutcome
from providers.smsdrop.adapter import SmsdropAdapter
from tests.providers.conftest import SMSDROP_PASSWORD, body_json, message

BASE = "https://smsdrop.edevtecapps.com/api"
CAMPAIGN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CAMPAIGN = {
    "id": CAMPAIGN_ID,
    "title": "T",
    "message": "hi",
    "message_type": 0,
    "sender": "Max",
    "recipient_list": ["+22963588213"],
    "delivery_percentage": 0,
    "message_count": 1,
    "sms_count": 1,
    "status": "PENDING",
    "created_at": "2030-01-01T08:00:00+00:00",
}


@pytest.fixture
def login(api):
    return api.post(f"{BASE}/auth/login").respond(
        200, json={"access_token": "tok-1", "token_type": "bearer"}
    )


def test_login_is_a_form_post(api, smsdrop, login):
    api.get(f"{BASE}/users/me").respond(200, json={"id": "u1", "email": "a@b.c", "is_active": True})
    api.get(f"{BASE}/subscriptions/").respond(200, json={"id": "s1", "nbr_sms": 250})
    smsdrop.account_info()
    request = login.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == b"username=a%40b.c&password=pw-very-secret"
    assert parse_qsl(request.content.decode()) == [
        ("username", "a@b.c"),
        ("password", SMSDROP_PASSWORD),
    ]
    assert "Authorization" not in request.headers


def test_account_info_reads_me_and_credits_with_a_cached_token(api, smsdrop, login):
    me = api.get(f"{BASE}/users/me").respond(200, json={"id": "u1", "email": "a@b.c"})
    api.get(f"{BASE}/subscriptions/").respond(
        200, json={"id": "s1", "nbr_sms": 250, "created_at": "2030-01-01T00:00:00"}
    )
    info = smsdrop.account_info()
    assert (info.credits, info.balance, info.login, info.senders) == (250, None, "a@b.c", ())
    assert me.calls[0].request.headers["Authorization"] == "Bearer tok-1"
    assert login.call_count == 1


def test_bad_credentials(api, smsdrop):
    api.post(f"{BASE}/auth/login").respond(400, json={"detail": "LOGIN_BAD_CREDENTIALS"})
    with pytest.raises(AuthError, match="did not accept the e-mail and password") as caught:
        smsdrop.account_info()
    assert SMSDROP_PASSWORD not in str(caught.value) + caught.value.detail


def test_401_renews_the_token_once(api, smsdrop):
    login = api.post(f"{BASE}/auth/login")
    login.side_effect = [
        httpx.Response(200, json={"access_token": "old"}),
        httpx.Response(200, json={"access_token": "new"}),
    ]
    campaigns = api.get(f"{BASE}/campaigns/")
    campaigns.side_effect = [httpx.Response(401), httpx.Response(200, json=[])]
    assert smsdrop.list_campaigns() == []
    assert [c.request.headers["Authorization"] for c in campaigns.calls] == [
        "Bearer old",
        "Bearer new",
    ]


def test_launch_body_is_the_captured_one(api, smsdrop, login):
    route = api.post(f"{BASE}/campaigns/").respond(200, json=CAMPAIGN)
    spec = CampaignSpec(
        sender="Max", text="hi", name="T", start_at=datetime(2030, 1, 1, 9, tzinfo=UTC)
    )
    submission = smsdrop.submit(spec, [message("+22963588213", "r1")], BatchState())
    assert body_json(route.calls[0].request) == {
        "title": "T",
        "message": "hi",
        "message_type": 0,
        "sender": "Max",
        "recipient_list": ["+22963588213"],
        "defer_until": "2030-01-01T09:00:00+00:00",
        "defer_by": None,
    }
    assert submission.launched
    assert submission.provider_campaign_id == CAMPAIGN_ID
    assert submission.campaign_status == "scheduled"
    assert [(r.reference, r.accepted) for r in submission.results] == [("r1", True)]


@pytest.mark.parametrize(
    ("text", "flash", "message_type"),
    [("hello", False, 0), ("hello", True, 1), ("Привет", False, 2), ("€ [ok]", False, 0)],
)
def test_message_type(api, smsdrop, login, text, flash, message_type):
    route = api.post(f"{BASE}/campaigns/").respond(200, json=CAMPAIGN)
    smsdrop.submit(
        CampaignSpec(sender="Max", text=text, flash=flash),
        [message("+2296")],
        BatchState(key="k"),
    )
    body = body_json(route.calls[0].request)
    assert body["message_type"] == message_type
    assert body["title"] == "[k]"


def test_201_is_created_but_not_launched_and_retry_never_creates_again(api, smsdrop, login):
    create = api.post(f"{BASE}/campaigns/").respond(201, json=CAMPAIGN)
    retry = api.post(f"{BASE}/campaigns/retry")
    retry.side_effect = [httpx.Response(201, json=CAMPAIGN), httpx.Response(200, json=CAMPAIGN)]
    recorded = []
    state = BatchState(key="k", on_created=recorded.append)
    batch = [message("+22963588213")]

    first = smsdrop.submit(CampaignSpec(sender="Max", text="hi"), batch, state)
    assert (first.launched, first.provider_campaign_id) == (False, CAMPAIGN_ID)
    assert "too few SMS credits" in first.reason
    assert recorded == [CAMPAIGN_ID]

    again = BatchState(key="k", provider_campaign_id=CAMPAIGN_ID)
    second = smsdrop.submit(CampaignSpec(sender="Max", text="hi"), batch, again)
    third = smsdrop.submit(CampaignSpec(sender="Max", text="hi"), batch, again)
    assert (second.launched, third.launched) == (False, True)
    assert create.call_count == 1
    assert [body_json(c.request) for c in retry.calls] == [{"id": CAMPAIGN_ID}] * 2


def test_422_names_the_field(api, smsdrop, login):
    api.post(f"{BASE}/campaigns/").respond(
        422,
        json={
            "detail": [
                {
                    "loc": ["body", "sender"],
                    "msg": "ensure this value has at most 11 characters",
                    "type": "value_error",
                }
            ]
        },
    )
    with pytest.raises(InvalidRequest) as caught:
        smsdrop.submit(CampaignSpec(sender="X" * 12, text="hi"), [message("+2296")], BatchState())
    assert caught.value.field == "sender"
    assert "at most 11 characters" in str(caught.value)


def test_5xx_on_launch_is_unknown_outcome(api, smsdrop, login):
    api.post(f"{BASE}/campaigns/").respond(500)
    with pytest.raises(UnknownOutcome):
        smsdrop.submit(CampaignSpec(sender="Max", text="hi"), [message("+2296")], BatchState())


@pytest.mark.parametrize(
    ("status", "percentage", "counters"),
    [
        ("PENDING", 0, {"queued": 10}),
        ("SCHEDULED", 0, {"queued": 10}),
        ("SENDING", 40, {"delivered": 4, "sent": 6}),
        ("COMPLETED", 75, {"delivered": 8, "unknown": 2}),
        ("ABORTED", 30, {"delivered": 3, "unknown": 7}),
    ],
)
def test_counters_are_derived_from_the_delivery_percentage(
    api, smsdrop, login, status, percentage, counters
):
    campaign = CAMPAIGN | {"status": status, "delivery_percentage": percentage, "message_count": 10}
    api.get(f"{BASE}/campaigns/{CAMPAIGN_ID}").respond(200, json=campaign)
    stats = smsdrop.campaign_stats(CAMPAIGN_ID)
    assert {k: v for k, v in stats.counters.items() if v} == counters
    assert stats.total == 10
    assert stats.raw_status == status


def test_unknown_campaign_is_not_found(api, smsdrop, login):
    api.get(f"{BASE}/campaigns/nope").respond(404, json={"detail": "Not Found"})
    with pytest.raises(NotFound):
        smsdrop.campaign_stats("nope")


def test_list_campaigns(api, smsdrop, login):
    route = api.get(f"{BASE}/campaigns/").respond(200, json=[CAMPAIGN | {"status": "COMPLETED"}])
    [campaign] = smsdrop.list_campaigns()
    assert dict(route.calls[0].request.url.params) == {"skip": "0", "limit": "100"}
    assert (campaign.provider_campaign_id, campaign.name, campaign.status) == (
        CAMPAIGN_ID,
        "T",
        "completed",
    )


def test_what_smsdrop_cannot_do(smsdrop):
    caps = SmsdropAdapter.capabilities
    assert not (caps.stop or caps.quote or caps.message_status or caps.status_by_reference)
    for call in (
        lambda: smsdrop.stop("1"),
        lambda: smsdrop.lookup_reference("r"),
        lambda: smsdrop.message_statuses("1"),
        lambda: smsdrop.quote(None, []),
    ):
        with pytest.raises(NotSupported):
            call()


def test_read_campaign(api, smsdrop, login):
    api.get(f"{BASE}/campaigns/{CAMPAIGN_ID}").respond(200, json=CAMPAIGN | {"status": "SENDING"})
    campaign = smsdrop.campaign(CAMPAIGN_ID)
    assert (campaign.provider_campaign_id, campaign.status, campaign.raw_status) == (
        CAMPAIGN_ID,
        "sending",
        "SENDING",
    )
