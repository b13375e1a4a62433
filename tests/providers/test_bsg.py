"""BSG One-API adapter against the documented example payloads (providers/bsg/README.md §2.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from providers.base import BatchState, CampaignSpec, VoicePayload
from providers.bsg.adapter import BSGAdapter
from providers.bsg.errors import LEGACY_ERRORS
from providers.errors import (
    AuthError,
    DuplicateReference,
    InsufficientFunds,
    InvalidRequest,
    NotFound,
    PermanentError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from tests.providers.conftest import BSG_KEY, body_json, message

BASE = "https://one-api.bsg.world"
JWT = "eyJhbGciOiJIUzI1NiJ9.payload.sig"
CAMPAIGN = {
    "id": 53651994,
    "name": "Campaign 1",
    "sender": "Best Seller",
    "status": "sending",
    "message_type": "sms",
    "created_at": "2030-01-02T03:04:05+00:00",
    "statistics": {"delivered": 0, "sent": 0},
    "calculated_price": 0.02,
    "currency": "EUR",
}


@pytest.fixture
def login(api):
    return api.post(f"{BASE}/api/auth/login").respond(200, json={"bearer": JWT})


def sms(**fields):
    return CampaignSpec(sender="Best Seller", text="test", **fields)


# --- Authentication ------------------------------------------------------------------------


def test_login_request_is_the_documented_one(api, bsg, login):
    api.get(f"{BASE}/api/accounts/balance").respond(
        200, json={"data": {"balance": 12.5, "currency": "EUR", "credit": 0}}
    )
    api.get(f"{BASE}/api/senders", params={"type": "sms"}).respond(
        200, json={"data": [], "total": 0}
    )
    bsg.account_info()
    request = login.calls[0].request
    assert request.method == "POST"
    assert request.url.path == "/api/auth/login"
    assert body_json(request) == {"api_key": BSG_KEY}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert "Authorization" not in request.headers


def test_token_is_cached_and_sent_as_bearer(api, bsg, login):
    route = api.get(f"{BASE}/api/campaigns").respond(200, json={"data": [], "meta": {}})
    bsg.list_campaigns()
    bsg.list_campaigns()
    type(bsg)(credentials={"api_key": BSG_KEY}).list_campaigns()  # another instance, same cache
    assert login.call_count == 1
    assert route.call_count == 3
    assert all(c.request.headers["Authorization"] == f"Bearer {JWT}" for c in route.calls)


def test_the_cached_token_is_encrypted_and_survives_a_key_rotation(api, bsg, login, settings):
    """A bearer token in Redis is as good as the API key: it is stored encrypted (#15)."""
    from cryptography.fernet import Fernet
    from django.core.cache import cache

    api.get(f"{BASE}/api/campaigns").respond(200, json={"data": [], "meta": {}})
    bsg.list_campaigns()
    stored = cache.get(bsg.token_cache_key())
    assert stored and JWT not in stored

    settings.CRIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is gone
    bsg.list_campaigns()
    assert login.call_count == 2  # logged in again instead of failing


def test_token_cache_key_is_a_hash_not_the_key(bsg):
    key = bsg.token_cache_key()
    assert BSG_KEY not in key
    assert (
        key
        != type(bsg)(
            base_url="http://127.0.0.1:8000/sandbox/bsg", credentials={"api_key": BSG_KEY}
        ).token_cache_key()
    )


def test_401_logs_in_again_once_and_retries(api, bsg):
    login = api.post(f"{BASE}/api/auth/login")
    login.side_effect = [
        httpx.Response(200, json={"bearer": "old"}),
        httpx.Response(200, json={"bearer": "new"}),
    ]
    route = api.get(f"{BASE}/api/campaigns")
    route.side_effect = [httpx.Response(401), httpx.Response(200, json={"data": []})]
    assert bsg.list_campaigns() == []
    assert login.call_count == 2
    assert [c.request.headers["Authorization"] for c in route.calls] == ["Bearer old", "Bearer new"]


def test_401_twice_is_auth_error(api, bsg, login):
    route = api.get(f"{BASE}/api/campaigns").respond(401, json={"message": "Unauthenticated."})
    with pytest.raises(AuthError):
        bsg.list_campaigns()
    assert route.call_count == 2
    assert login.call_count == 2


def test_rejected_api_key_says_so_without_the_key(api, bsg):
    api.post(f"{BASE}/api/auth/login").respond(401, json={"message": "Invalid api key"})
    with pytest.raises(AuthError) as caught:
        bsg.list_campaigns()
    assert "did not accept the API key" in str(caught.value)
    assert BSG_KEY not in str(caught.value) + caught.value.detail + repr(caught.value)


# --- Sending -------------------------------------------------------------------------------


def test_sms_campaign_body_is_the_captured_one(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/send").respond(200, json={"data": CAMPAIGN})
    bsg.submit(sms(), [message("+380661231231", "abc1")], BatchState())
    assert body_json(route.calls[0].request) == {
        "validity": 72,
        "add_to_contact_book": True,
        "check_stop_list": True,
        "recipients": {"phones": [{"number": "380661231231", "reference_id": "abc1"}]},
        "channels": ["sms"],
        "sms": {"sender": "Best Seller", "text": "test", "transliterate": False},
        "dry_run": False,
    }
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {JWT}"


def test_submit_returns_the_campaign_id_and_one_result_per_message(api, bsg, login):
    api.post(f"{BASE}/api/campaigns/send").respond(200, json={"data": CAMPAIGN})
    recorded = []
    state = BatchState(key="d1", on_created=recorded.append)
    batch = [message("+77011234567", "r1"), message("+77011234568", "r2")]
    submission = bsg.submit(sms(), batch, state)
    assert submission.provider_campaign_id == "53651994"
    assert recorded == ["53651994"]
    assert [(r.reference, r.accepted, r.status) for r in submission.results] == [
        ("r1", True, "queued"),
        ("r2", True, "queued"),
    ]
    assert submission.campaign_status == "sending"


def test_schedule_and_validity_are_sent(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/send").respond(200, json={"data": CAMPAIGN})
    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    bsg.submit(
        sms(start_at=start, validity=timedelta(minutes=90)),
        [message("+77011234567")],
        BatchState(),
    )
    body = body_json(route.calls[0].request)
    assert body["start_at"] == "2030-01-02T03:04:05+00:00"
    assert body["validity"] == 2


def test_voice_campaign_body(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/send").respond(200, json={"data": CAMPAIGN})
    voice = VoicePayload(text="Hello", category="transactional", voice="sonya", language="en")
    spec = CampaignSpec(sender="", channel="voice", voice=voice)
    bsg.submit(spec, [message("+380661231231", "abc1")], BatchState())
    body = body_json(route.calls[0].request)
    assert body["channels"] == ["voice"]
    assert body["voice"] == {
        "text": "Hello",
        "category": "transactional",
        "voice": "sonya",
        "lang": "en",
    }
    assert "sms" not in body


def test_personalised_texts_go_to_send_individual(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/sms/send-individual").respond(
        200, json={"data": CAMPAIGN}
    )
    batch = [message("+77011234567", "r1", text="Hi Ann"), message("+77011234568", "r2")]
    bsg.submit(sms(), batch, BatchState())
    assert body_json(route.calls[0].request) == {
        "messages": [
            {"phone": 77011234567, "text": "Hi Ann", "sender": "Best Seller", "reference_id": "r1"},
            {"phone": 77011234568, "text": "test", "sender": "Best Seller", "reference_id": "r2"},
        ],
        "validity": 72,
    }


def test_ten_thousand_phones_go_in_one_call(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/send").respond(200, json={"data": CAMPAIGN})
    batch = [message(f"+7701{n:07d}") for n in range(10_000)]
    bsg.submit(sms(), batch, BatchState())
    assert len(body_json(route.calls[0].request)["recipients"]["phones"]) == 10_000


def test_more_than_ten_thousand_is_refused_before_any_request(api, bsg):
    with pytest.raises(InvalidRequest, match="at most 10,000"):
        bsg.submit(sms(), [message(f"+7701{n:07d}") for n in range(10_001)], BatchState())
    assert api.calls.call_count == 0


def test_429_on_send_is_rate_limited_with_its_sentence(api, bsg, login):
    api.post(f"{BASE}/api/campaigns/send").respond(
        429, json={"message": "Too many requests"}, headers={"Retry-After": "30"}
    )
    with pytest.raises(RateLimited) as caught:
        bsg.submit(sms(), [message("+77011234567")], BatchState())
    assert caught.value.retry_after == 30
    assert "too many identical requests" in str(caught.value)


def test_read_timeout_on_send_is_unknown_outcome(api, bsg, login):
    api.post(f"{BASE}/api/campaigns/send").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(UnknownOutcome):
        bsg.submit(sms(), [message("+77011234567")], BatchState())


def test_garbled_send_answer_is_unknown_outcome(api, bsg, login):
    api.post(f"{BASE}/api/campaigns/send").respond(200, content=b'{"data": {"id": 5')
    with pytest.raises(UnknownOutcome):
        bsg.submit(sms(), [message("+77011234567")], BatchState())


def test_price_request_is_the_documented_example(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/price").respond(
        200, content=b'{"price": 0.0345, "currency": "EUR"}'
    )
    quote = bsg.quote(CampaignSpec(sender="Vet klinika", text="hello!"), [message("+38267161234")])
    assert body_json(route.calls[0].request) == {
        "sender": "Vet klinika",
        "text": "hello!",
        "messages": [{"phone": 38267161234}],
    }
    assert quote.total == Decimal("0.0345")
    assert quote.currency == "EUR"
    assert [(line.destination, line.messages) for line in quote.lines] == [("ME", 1)]


def test_price_is_asked_per_country_and_summed(api, bsg, login):
    route = api.post(f"{BASE}/api/campaigns/price")
    route.side_effect = [
        httpx.Response(200, json={"price": "0.10", "currency": "EUR"}),
        httpx.Response(200, json={"price": "0.25", "currency": "EUR"}),
    ]
    batch = [message("+77011234567"), message("+380661231231"), message("+77011234568")]
    quote = bsg.quote(sms(), batch)
    assert quote.total == Decimal("0.35")
    assert {(line.destination, line.messages) for line in quote.lines} == {("KZ", 2), ("UA", 1)}


def test_price_tariff_not_found(api, bsg, login):
    api.post(f"{BASE}/api/campaigns/price").respond(422, json={"message": "Tariff not found"})
    with pytest.raises(InvalidRequest) as caught:
        bsg.quote(sms(), [message("+77011234567")])
    assert caught.value.field == "tariff_code"


def test_price_validation_error_names_the_problem(api, bsg, login):
    api.post(f"{BASE}/api/campaigns/price").respond(
        422,
        json={
            "message": "The given data was invalid.",
            "errors": {"sender": ["Sender is invalid"]},
        },
    )
    with pytest.raises(InvalidRequest, match="BSG rejected the request: Sender is invalid"):
        bsg.quote(sms(), [message("+77011234567")])


# --- Tracking and control ------------------------------------------------------------------


def test_campaign_stats_from_detail(api, bsg, login):
    detail = {
        "id": 53651994,
        "status": "sending",
        "type": "sms",
        "statistics": {
            "delivered": 5,
            "sent": 2,
            "scheduled": 0,
            "moderation": 0,
            "accepted": 1,
            "sending": 1,
            "expired": 1,
            "failed": 1,
            "undelivered": 1,
            "unknown": 0,
            "read": 1,
            "not_viber_user": 0,
            "not_rcs_user": 1,
        },
        "total_messages": 14,
        "total_phones": 14,
        "total_price": "0.2800000",
        "currency": "EUR",
    }
    api.get(f"{BASE}/api/campaigns/53651994/detail").respond(200, json={"data": detail})
    stats = bsg.campaign_stats("53651994")
    assert stats.counters == {
        "queued": 2,
        "sent": 2,
        "delivered": 6,
        "undelivered": 2,
        "expired": 1,
        "rejected": 1,
        "unknown": 0,
    }
    assert stats.cost == Decimal("0.28")
    assert stats.currency == "EUR"
    assert stats.campaign_status == "sending"
    assert stats.total == 14
    assert not stats.finished


def test_messages_by_campaign_are_paged_500_at_a_time(api, bsg, login):
    def item(n, status="delivered"):
        return {
            "id": n,
            "campaign_id": 7,
            "reference_id": f"r{n}",
            "status": status,
            "amount": {"value": "0.0200000", "currency": "EUR"},
            "delivered_at": "2030-01-02T03:04:05+00:00",
        }

    route = api.get(f"{BASE}/api/messages")
    route.side_effect = [
        httpx.Response(
            200,
            json={
                "data": [item(n) for n in range(500)],
                "meta": {"page": {"total": 501, "limit": 500, "offset": 0}},
            },
        ),
        httpx.Response(
            200,
            json={
                "data": [item(500, "sent")],
                "meta": {"page": {"total": 501, "limit": 500, "offset": 500}},
            },
        ),
    ]
    reports = bsg.message_statuses("7")
    assert len(reports) == 501
    params = [dict(c.request.url.params) for c in route.calls]
    assert params == [
        {"filter[campaign_id]": "7", "page[offset]": "0", "page[limit]": "500"},
        {"filter[campaign_id]": "7", "page[offset]": "500", "page[limit]": "500"},
    ]
    first, last = reports[0], reports[-1]
    assert (first.reference, first.provider_message_id, first.status, first.final) == (
        "r0",
        "0",
        "delivered",
        True,
    )
    assert first.cost == Decimal("0.02")
    assert first.updated_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (last.status, last.final) == ("sent", False)


REST = "https://api.bsg.world/rest/sms"
# The documented answer of /rest/sms/{id} and /rest/sms/reference/{reference}
# (provider-docs/bsg-rest-sms-status.txt), with a failed message's status.
REST_SMS = {
    "error": 0,
    "errorDescription": "No errors",
    "id": "211",
    "msisdn": "380972000001",
    "reference": "abc1",
    "time_in": "2017-01-17 09:11:41",
    "time_sent": "2017-01-17 09:11:41",
    "time_dr": "2017-01-17 09:11:41",
    "status": "undeliverable",
    "price": 0.23,
    "currency": "EUR",
}


def test_lookup_reference_asks_the_rest_api_with_the_api_key(api, bsg):
    route = api.get(f"{REST}/reference/abc1").respond(200, json=REST_SMS)

    report = bsg.lookup_reference("abc1")

    assert route.calls[0].request.headers["X-API-KEY"] == BSG_KEY
    assert "Authorization" not in route.calls[0].request.headers
    assert (report.provider_message_id, report.reference) == ("211", "abc1")
    assert (report.status, report.final, report.raw_status) == (
        "undelivered",
        True,
        "undeliverable",
    )
    assert (report.cost, report.currency) == (Decimal("0.23"), "EUR")
    assert report.updated_at == datetime(2017, 1, 17, 9, 11, 41)
    assert report.error_reason == "Not delivered: incorrect recipient phone number"


def test_lookup_of_a_reference_bsg_never_got_is_none(api, bsg):
    api.get(f"{REST}/reference/nope").respond(
        404, json={"error": "20", "errorDescription": "SMS not found"}
    )
    assert bsg.lookup_reference("nope") is None


def test_a_message_by_id_through_the_rest_api(api, bsg):
    api.get(f"{REST}/211").respond(200, json=REST_SMS | {"status": "delivered"})

    report = bsg.message("211")

    assert (report.status, report.final, report.error_reason) == ("delivered", True, "")


def test_task_stats_read_the_documented_counters(api, bsg):
    task = {"originator": "alpha_name", "body": "message text", "validity": 72}
    task |= {"totalprice": 0.23, "currency": "EUR", "sent": 1, "delivered": 4, "expired": 2}
    api.get(f"{REST}/task/77").respond(200, json=task | {"undeliverable": 3, "unknown": 1})

    stats = bsg.task_stats("77")

    assert {k: v for k, v in stats.counters.items() if v} == {
        "sent": 1, "delivered": 4, "expired": 2, "undelivered": 3, "unknown": 1,
    }  # fmt: skip
    assert (stats.total, stats.cost, stats.currency) == (11, Decimal("0.23"), "EUR")


def test_reconcile_finds_the_batch_by_its_first_reference_then_its_campaign(api, bsg, login):
    api.get(f"{REST}/reference/abc1").respond(200, json=REST_SMS | {"status": "sent"})
    api.get(f"{BASE}/api/messages", params={"filter[id]": "211"}).respond(
        200, json={"data": [{"id": 211, "campaign_id": 56, "reference_id": "abc1"}]}
    )
    api.get(f"{BASE}/api/messages", params={"filter[campaign_id]": "56"}).respond(
        200,
        json={
            "data": [{"id": 211, "campaign_id": 56, "reference_id": "abc1", "status": "sent"}],
            "meta": {"page": {"total": 1}},
        },
    )

    found = bsg.reconcile(sms(), [message("+380972000001", "abc1")], BatchState())

    assert found.provider_campaign_id == "56"
    assert [(r.reference, r.accepted, r.provider_message_id) for r in found.results] == [
        ("abc1", True, "211")
    ]


def test_reconcile_of_a_batch_bsg_never_got_is_none(api, bsg):
    api.get(f"{REST}/reference/abc1").respond(
        404, json={"error": "20", "errorDescription": "SMS not found"}
    )
    assert bsg.reconcile(sms(), [message("+380972000001", "abc1")], BatchState()) is None


def test_a_sandbox_base_url_serves_the_rest_api_too(api, settings):
    settings.CRIER_SANDBOX_ORIGINS = ["http://testserver"]  # providers.hosts: our own sandbox
    sandbox = BSGAdapter(credentials={"api_key": BSG_KEY}, base_url="http://testserver/sandbox/bsg")
    route = api.get("http://testserver/sandbox/bsg/rest/sms/reference/abc1").respond(
        200, json=REST_SMS
    )
    sandbox.lookup_reference("abc1")
    assert route.called


def test_stop(api, bsg, login):
    route = api.patch(f"{BASE}/api/campaigns/56/stop").respond(
        200, json={"data": CAMPAIGN | {"id": 56, "status": "stopped"}}
    )
    assert bsg.stop("56") == "cancelled"
    assert route.calls[0].request.content == b""


def test_stop_of_a_finished_campaign_says_why(api, bsg, login):
    api.patch(f"{BASE}/api/campaigns/56/stop").respond(422, json={"message": "Invalid status"})
    with pytest.raises(PermanentError, match="already finished or been stopped"):
        bsg.stop("56")


def test_unknown_campaign_is_not_found(api, bsg, login):
    api.get(f"{BASE}/api/campaigns/1/detail").respond(404, json={"message": "Not found"})
    with pytest.raises(NotFound):
        bsg.campaign_stats("1")


def test_list_campaigns(api, bsg, login):
    route = api.get(f"{BASE}/api/campaigns").respond(
        200,
        json={
            "data": [CAMPAIGN | {"status": "done"}],
            "meta": {"page": {"total": 1, "limit": 50, "offset": 0}},
        },
    )
    [campaign] = bsg.list_campaigns()
    assert dict(route.calls[0].request.url.params) == {
        "page[offset]": "0",
        "page[limit]": "50",
        "sort": "id",
        "way": "desc",
    }
    assert (campaign.provider_campaign_id, campaign.status, campaign.raw_status) == (
        "53651994",
        "completed",
        "done",
    )


def test_account_info_balance_and_senders(api, bsg, login):
    api.get(f"{BASE}/api/accounts/balance").respond(
        200, content=b'{"data": {"balance": 104.3275, "currency": "EUR", "credit": 0}}'
    )
    senders = [
        {"id": 1, "status": "active", "country": "KZ", "sender": "Acme", "is_default": True},
        {"id": 2, "status": "registering", "country": "KZ", "sender": "AcmeNew"},
        {"id": 3, "status": "blocked", "country": "UA", "sender": "Old"},
    ]
    route = api.get(f"{BASE}/api/senders").respond(200, json={"data": senders, "total": 3})
    info = bsg.account_info()
    assert route.calls[0].request.url.params["type"] == "sms"
    assert info.balance == Decimal("104.3275")
    assert info.currency == "EUR"
    assert [(s.value, s.status) for s in info.senders] == [
        ("Acme", "approved"),
        ("AcmeNew", "pending"),
        ("Old", "rejected"),
    ]


# --- Every error code ----------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(LEGACY_ERRORS))
def test_legacy_error_codes(api, bsg, login, code):
    error_class, field, sentence = LEGACY_ERRORS[code]
    api.get(f"{BASE}/api/campaigns").respond(
        400, json={"error": str(code), "errorDescription": "whatever BSG says"}
    )
    with pytest.raises(error_class) as caught:
        bsg.list_campaigns()
    assert str(caught.value) == sentence
    assert caught.value.code == str(code)
    assert caught.value.detail == "whatever BSG says"
    if field:
        assert caught.value.field == field


def test_legacy_codes_cover_20_to_36():
    assert set(range(20, 37)) <= set(LEGACY_ERRORS)


@pytest.mark.parametrize(
    ("status", "error_class", "words"),
    [
        (400, InvalidRequest, "BSG rejected the request"),
        (401, AuthError, "credentials"),
        (402, InsufficientFunds, "balance is too low"),
        (403, AuthError, "does not allow"),
        (404, NotFound, "could not find"),
        (409, DuplicateReference, "already has"),
        (422, InvalidRequest, "BSG rejected the request"),
        (429, RateLimited, "too many identical requests"),
        (500, TemporaryError, "internal error"),
    ],
)
def test_http_error_statuses(api, bsg, login, status, error_class, words):
    api.get(f"{BASE}/api/campaigns").respond(status, json={"message": "x", "errors": []})
    with pytest.raises(error_class, match=words):
        bsg.list_campaigns()


def test_get_campaign(api, bsg, login):
    api.get(f"{BASE}/api/campaigns/53651994").respond(200, json={"data": CAMPAIGN})
    campaign = bsg.campaign("53651994")
    assert (campaign.provider_campaign_id, campaign.name, campaign.status) == (
        "53651994",
        "Campaign 1",
        "sending",
    )
    assert campaign.created_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "errors",
    [
        [
            {
                "field": "messages.3.reference_id",
                "message": "The reference id has already been taken.",
            }
        ],
        {"recipients.phones.0.reference_id": ["The reference id has already been taken."]},
        [
            {"field": "sms.text", "message": "The text field is required."},
            {
                "field": "recipients.phones.9.reference_id",
                "message": "The reference id has already been taken.",
            },
        ],
    ],
)
def test_a_reference_already_taken_is_a_duplicate_not_a_refusal(api, bsg, login, errors):
    """Laravel's 422 for a unique reference_id means BSG has the batch: it was sent before,
    and must never be written down as failed (and retried) by Crier."""
    body = {"message": "The given data was invalid.", "errors": errors}
    api.post(f"{BASE}/api/campaigns/send").respond(422, json=body)
    with pytest.raises(DuplicateReference):
        bsg.submit(CampaignSpec(sender="Crier", text="x"), [message("+77011234567")], BatchState())


@pytest.mark.parametrize("answer", [{}, {"bearer": ""}, {"bearer": None}, [], "ok"])
def test_a_login_answer_without_a_token_is_a_provider_error_not_a_crash(api, bsg, answer):
    api.post(f"{BASE}/api/auth/login").respond(200, json=answer)
    with pytest.raises(TemporaryError, match="answered the login without a token"):
        bsg.account_info()
