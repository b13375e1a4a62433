"""BSG One-API emulator, driven with the example requests of bsg README §2.1."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from providers.bsg.emulator import BSGEmulator
from providers.sandbox import accounts, clock
from providers.sandbox.models import Charge, SenderName

pytestmark = pytest.mark.django_db
BASE = "/sandbox/bsg/api"
# The captured SDK body for POST /api/campaigns/send (bsg README §2.1.4).
CAPTURED_SEND = {
    "validity": 72,
    "add_to_contact_book": True,
    "check_stop_list": True,
    "recipients": {"phones": [{"number": "380661231231", "reference_id": "abc1"}]},
    "channels": ["sms"],
    "sms": {"sender": "Best Seller", "text": "test", "transliterate": False},
    "dry_run": False,
}


@pytest.fixture
def api(client, bsg_account):
    """A test client logged in to the BSG sandbox, with the documented example senders."""
    for name in ("Best Seller", "Vet klinika"):
        SenderName.objects.create(account=bsg_account, name=name)
    response = client.post(
        f"{BASE}/auth/login", {"api_key": bsg_account.api_key}, content_type="application/json"
    )
    assert response.status_code == 200
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {response.json()['bearer']}"
    return client


def send(api, body):
    return api.post(f"{BASE}/campaigns/send", body, content_type="application/json")


def phones(n, prefix="abc"):
    return [{"number": str(380661000000 + i), "reference_id": f"{prefix}{i}"} for i in range(n)]


def sms_body(recipients, sender="Best Seller", text="test", **extra):
    return {"channels": ["sms"], "recipients": {"phones": recipients}, **extra} | {
        "sms": {"sender": sender, "text": text}
    }


def test_login_with_wrong_key_is_401(client, bsg_account):
    response = client.post(
        f"{BASE}/auth/login", {"api_key": "live_wrong"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert "message" in response.json()


def test_login_without_key_is_422_with_field(client, bsg_account):
    response = client.post(f"{BASE}/auth/login", {}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "api_key"


def test_calls_without_a_token_are_401(client, bsg_account):
    response = client.get(f"{BASE}/accounts/balance")
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthenticated."


def test_refresh_gives_a_working_token(api):
    response = api.post(f"{BASE}/auth/refresh")
    assert response.status_code == 200
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {response.json()['bearer']}"
    assert api.get(f"{BASE}/accounts/balance").status_code == 200


def test_colon_bearer_form_of_the_docs_page_is_accepted(api):
    token = api.defaults["HTTP_AUTHORIZATION"].split()[1]
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer: {token}"
    assert api.get(f"{BASE}/accounts/balance").status_code == 200


def test_revoked_token_is_401(api, bsg_account):
    bsg_account.token_version += 1
    bsg_account.save()
    assert api.get(f"{BASE}/accounts/balance").status_code == 401


def test_captured_send_body_creates_a_sending_campaign_and_charges_once(api, bsg_account):
    response = send(api, CAPTURED_SEND)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "sending"
    assert data["sender"] == "Best Seller"
    assert data["calculated_price"] == 0.035
    assert data["currency"] == "EUR"
    assert accounts.charges("abc1") == 1
    bsg_account.refresh_from_db()
    assert bsg_account.balance == Decimal("100.0000") - Decimal("0.0350")


def test_seed_example_with_an_integer_number_is_accepted(api):
    body = {
        "channels": ["sms"],
        "recipients": {"phones": [{"number": 380661231231}]},
        "sms": {"sender": "Best Seller", "text": "test"},
    }
    assert send(api, body).status_code == 200


def test_voice_variant_is_accepted(api):
    body = {
        "channels": ["voice"],
        "recipients": {"phones": [{"number": "380661231231", "reference_id": "v1"}]},
        "voice": {"text": "Hello", "category": "transactional", "voice": "sonya", "lang": "en"},
    }
    response = send(api, body)
    assert response.status_code == 200
    # MessageType is sms, viber, hlr, rcs or whatsapp (bsg README §2.1.6): never "voice".
    assert response.json()["data"]["message_type"] == "sms"
    assert accounts.charges("v1") == 1


def test_voice_needs_a_documented_category(api):
    body = {
        "channels": ["voice"],
        "recipients": {"phones": [{"number": "380661231231"}]},
        "voice": {"text": "Hello", "category": "spam"},
    }
    response = send(api, body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["voice.category"]


@pytest.mark.parametrize(
    ("channel", "length", "ok"),
    [("sms", 765, True), ("sms", 766, False), ("voice", 1000, True), ("voice", 1001, False)],
)
def test_text_length_limits(api, channel, length, ok):
    content = {"text": "a" * length, "category": "otp"} if channel == "voice" else {}
    content = content or {"sender": "Best Seller", "text": "a" * length}
    body = {"channels": [channel], "recipients": {"phones": phones(1)}, channel: content}
    assert (send(api, body).status_code == 200) is ok


def test_duplicate_reference_is_rejected_and_not_charged_again(api):
    assert send(api, CAPTURED_SEND).status_code == 200
    response = send(api, CAPTURED_SEND)
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "The given data was invalid."
    assert body["errors"] == [
        {
            "field": "recipients.phones.0.reference_id",
            "message": "The reference id has already been taken.",
        }
    ]
    assert accounts.charges("abc1") == 1
    assert accounts.charged_more_than_once() == {}


def test_duplicate_reference_within_one_request_is_rejected(api):
    recipients = phones(2)
    recipients[1]["reference_id"] = recipients[0]["reference_id"]
    response = send(api, sms_body(recipients))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "recipients.phones.1.reference_id"
    assert accounts.charges("abc0") == 0


def test_more_than_10000_phones_is_422(api):
    response = send(api, sms_body(phones(10_001)))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "recipients.phones"


def test_invalid_fields_are_all_reported(api):
    body = sms_body([{"number": "12345", "reference_id": "bad-ref!"}], text="")
    response = send(api, body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "recipients.phones.0.number",
        "recipients.phones.0.reference_id",
        "sms.text",
    }


def test_pending_sender_name_is_refused(api):
    response = send(api, sms_body(phones(1), sender="CrierNew"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sms.sender"


def test_dry_run_validates_without_charging(api, bsg_account):
    response = send(api, sms_body(phones(3), dry_run=True))
    assert response.status_code == 200
    assert response.json()["data"]["calculated_price"] == pytest.approx(0.105)
    assert accounts.charges("abc0") == 0
    bsg_account.refresh_from_db()
    assert bsg_account.balance == Decimal("100")


def test_insufficient_balance_is_refused_without_charging(api, bsg_account):
    bsg_account.balance = Decimal("0.05")
    bsg_account.save()
    response = send(api, sms_body(phones(2)))
    assert response.status_code == 422
    assert accounts.charges("abc0") == 0


def test_send_individual_keeps_each_text(api):
    body = {
        "messages": [
            {
                "phone": 380661231231,
                "text": "Hi Ann",
                "sender": "Best Seller",
                "reference_id": "i1",
            },
            {
                "phone": 380661231232,
                "text": "Hi Bob",
                "sender": "Best Seller",
                "reference_id": "i2",
            },
        ],
        "validity": 72,
    }
    response = api.post(
        f"{BASE}/campaigns/sms/send-individual", body, content_type="application/json"
    )
    assert response.status_code == 200
    found = api.get(f"{BASE}/messages", {"filter[reference_id]": "i2"}).json()["data"]
    assert [(m["phone"], m["text"]) for m in found] == [(380661231232, "Hi Bob")]


def test_price_of_the_seed_example(api):
    body = {"sender": "Vet klinika", "text": "hello!", "messages": [{"phone": 38267161234}]}
    response = api.post(f"{BASE}/campaigns/price", body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"price": 0.035, "currency": "EUR"}


def test_price_counts_segments(api):
    body = {"sender": "Vet klinika", "text": "x" * 161, "messages": [{"phone": 38267161234}] * 2}
    response = api.post(f"{BASE}/campaigns/price", body, content_type="application/json")
    assert response.json()["price"] == pytest.approx(0.14)


def test_price_with_unknown_tariff_is_422(api):
    body = {"sender": "Vet klinika", "text": "hi", "tariff_code": 9, "messages": [{"phone": 1}]}
    response = api.post(f"{BASE}/campaigns/price", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["message"] == "Tariff not found"


def test_campaign_completes_when_time_passes(api):
    campaign_id = send(api, sms_body(phones(200))).json()["data"]["id"]
    clock.advance(130)
    data = api.get(f"{BASE}/campaigns/{campaign_id}").json()["data"]
    assert data["status"] == "done"
    assert data["finished_at"] is not None
    detail = api.get(f"{BASE}/campaigns/{campaign_id}/detail").json()["data"]
    stats = detail["statistics"]
    assert detail["total_phones"] == 200
    assert sum(stats.values()) == 200
    assert stats["delivered"] > 160
    assert stats["sending"] == stats["accepted"] == stats["sent"] == 0


def test_campaign_is_sending_until_the_last_report(api):
    campaign_id = send(api, sms_body(phones(50))).json()["data"]["id"]
    clock.advance(30)
    data = api.get(f"{BASE}/campaigns/{campaign_id}").json()["data"]
    assert data["status"] == "sending"
    assert 0 < data["statistics"]["delivered"] < 50


def test_messages_report_statuses_by_reference(api):
    send(api, sms_body(phones(20)))
    clock.advance(130)
    found = api.get(f"{BASE}/messages", {"filter[reference_id]": "abc3"}).json()
    assert found["meta"]["page"]["total"] == 1
    message = found["data"][0]
    assert message["reference_id"] == "abc3"
    assert message["status"] in {"delivered", "undelivered", "expired", "failed"}


def test_messages_by_campaign_are_paginated(api):
    campaign_id = send(api, sms_body(phones(40))).json()["data"]["id"]
    page = api.get(
        f"{BASE}/messages",
        {"filter[campaign_id]": campaign_id, "page[offset]": 15, "page[limit]": 15},
    ).json()
    assert page["meta"]["page"] == {"total": 40, "limit": 15, "offset": 15}
    assert [m["reference_id"] for m in page["data"]] == [f"abc{i}" for i in range(15, 30)]


def test_scheduled_campaign_can_be_stopped_once_and_is_refunded(api, bsg_account):
    start = (clock.now() + timedelta(hours=2)).isoformat()
    campaign_id = send(api, sms_body(phones(4), start_at=start)).json()["data"]["id"]
    assert api.get(f"{BASE}/campaigns/{campaign_id}").json()["data"]["status"] == "scheduled"
    response = api.patch(f"{BASE}/campaigns/{campaign_id}/stop")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "stopped"
    bsg_account.refresh_from_db()
    assert bsg_account.balance == Decimal("100")
    assert accounts.charges("abc0") == 0
    again = api.patch(f"{BASE}/campaigns/{campaign_id}/stop")
    assert again.status_code == 422
    clock.advance(3 * 3600)
    found = api.get(f"{BASE}/messages", {"filter[campaign_id]": campaign_id}).json()["data"]
    assert {m["status"] for m in found} == {"unknown"}


def test_stop_refunds_only_what_it_cut_off_and_reports_those_unknown(api, bsg_account):
    # m00051 is bound to be rejected: handed over at 2 s, refused at 4 s.
    recipients = [{"number": str(380661000000 + i), "reference_id": f"m{i:05d}"} for i in range(60)]
    campaign_id = send(api, sms_body(recipients)).json()["data"]["id"]
    clock.advance(2)
    assert api.patch(f"{BASE}/campaigns/{campaign_id}/stop").status_code == 200
    clock.advance(130)

    query = {"filter[campaign_id]": campaign_id, "page[limit]": 100}
    found = api.get(f"{BASE}/messages", query).json()["data"]
    status = {m["reference_id"]: m["status"] for m in found}
    assert 0 < list(status.values()).count("unknown") < 60
    for reference, reported in status.items():
        assert accounts.charges(reference) == (reported != "unknown"), reference
    assert (status["m00051"], accounts.charges("m00051")) == ("failed", 1)


def test_detail_total_price_is_what_stays_charged_after_a_stop(api, bsg_account):
    campaign_id = send(api, sms_body(phones(200))).json()["data"]["id"]
    detail = api.get(f"{BASE}/campaigns/{campaign_id}/detail").json()["data"]
    assert detail["total_price"] == "7.0000"
    clock.advance(2)
    api.patch(f"{BASE}/campaigns/{campaign_id}/stop")

    detail = api.get(f"{BASE}/campaigns/{campaign_id}/detail").json()["data"]

    kept = Charge.objects.active().filter(message__campaign_id=campaign_id).total()
    assert 0 < kept < Decimal("7")
    assert detail["total_price"] == f"{kept:.4f}"
    bsg_account.refresh_from_db()
    assert bsg_account.balance == BSGEmulator.starting_balance - kept


def test_finished_campaign_cannot_be_stopped(api):
    campaign_id = send(api, sms_body(phones(3))).json()["data"]["id"]
    clock.advance(130)
    response = api.patch(f"{BASE}/campaigns/{campaign_id}/stop")
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid campaign status."


def test_stop_is_patch_only(api):
    campaign_id = send(api, sms_body(phones(1))).json()["data"]["id"]
    assert api.post(f"{BASE}/campaigns/{campaign_id}/stop").status_code == 405


def test_foreign_campaign_is_404(api):
    other = accounts.provision("bsg", name="Other")
    token = api.post(
        f"{BASE}/auth/login", {"api_key": other["api_key"]}, content_type="application/json"
    ).json()["bearer"]
    campaign_id = send(api, sms_body(phones(1))).json()["data"]["id"]
    response = api.get(f"{BASE}/campaigns/{campaign_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 404


def test_campaign_list_takes_the_captured_query(api):
    send(api, sms_body(phones(1)))
    send(api, sms_body(phones(1, prefix="def")))
    query = (
        "page%5Boffset%5D=0&page%5Blimit%5D=50&sort=id&way=desc"
        "&filter%5Bfrom%5D=2024-01-01T00%3A00%3A00.000000%2B0000"
        "&filter%5Btype%5D=sms"
    )
    response = api.get(f"{BASE}/campaigns?{query}")
    assert response.status_code == 200
    body = response.json()
    ids = [c["id"] for c in body["data"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 2
    assert body["meta"]["page"] == {"total": 2, "limit": 50, "offset": 0}


def test_campaign_list_date_filter_excludes_older(api):
    send(api, sms_body(phones(1)))
    later = (clock.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert api.get(f"{BASE}/campaigns", {"filter[from]": later}).json()["data"] == []


def test_balance_and_senders(api):
    balance = api.get(f"{BASE}/accounts/balance").json()["data"]
    assert balance == {"balance": 100.0, "currency": "EUR", "credit": 0}
    senders = api.get(f"{BASE}/senders", {"type": "sms"}).json()
    by_name = {s["sender"]: s["status"] for s in senders["data"]}
    assert by_name["Crier"] == "active" and by_name["CrierNew"] == "registering"
    assert senders["total"] == len(senders["data"])
    assert api.get(f"{BASE}/senders").status_code == 422


# --- The REST SMS status API (provider-docs/bsg-rest-sms-status.txt) --------------------------

REST = "/sandbox/bsg/rest/sms"
# The documented answer's fields (a message by id or reference; a bulk task).
SMS_FIELDS = {"error", "errorDescription", "id", "msisdn", "reference", "time_in", "time_sent"}
SMS_FIELDS |= {"time_dr", "status", "price", "currency"}
TASK_FIELDS = {"originator", "body", "validity", "totalprice", "currency", "sent", "delivered"}
TASK_FIELDS |= {"expired", "undeliverable", "unknown"}
# The REST API's SMS statuses ("view an SMS status" page, bsg README §2.2).
REST_STATUSES = {"scheduled", "sent", "delivered", "expired", "undeliverable", "rejected"}
REST_STATUSES |= {"unknown"}


@pytest.fixture
def rest(client, bsg_account):
    client.defaults["HTTP_X_API_KEY"] = bsg_account.api_key
    return client


def test_rest_sms_by_reference_has_the_documented_fields(api, rest):
    send(api, sms_body(phones(20)))
    clock.advance(130)

    answer = rest.get(f"{REST}/reference/abc3").json()

    assert set(answer) == SMS_FIELDS
    assert (answer["error"], answer["reference"], answer["msisdn"]) == (0, "abc3", "380661000003")
    assert answer["status"] in REST_STATUSES - {"scheduled"}
    assert answer["time_dr"] is not None and answer["currency"] == "EUR"
    assert rest.get(f"{REST}/{answer['id']}").json() == answer


def test_rest_sms_before_it_is_sent_is_scheduled(api, rest):
    send(api, sms_body(phones(1)) | {"start_at": "2099-01-01T00:00:00+00:00"})

    answer = rest.get(f"{REST}/reference/abc0").json()

    assert (answer["status"], answer["time_sent"], answer["time_dr"]) == ("scheduled", None, None)


def test_rest_statuses_stay_within_the_documented_set(api, rest):
    send(api, sms_body(phones(60)))
    clock.advance(130)

    found = {rest.get(f"{REST}/reference/abc{i}").json()["status"] for i in range(60)}

    assert found <= REST_STATUSES and "delivered" in found


def test_rest_unknown_message_is_error_20(rest):
    for url in (f"{REST}/reference/nosuch1", f"{REST}/987654"):
        response = rest.get(url)
        assert response.status_code == 404
        assert response.json() == {"error": "20", "errorDescription": "SMS not found"}


def test_rest_malformed_reference_is_error_27(rest):
    response = rest.get(f"{REST}/reference/not-alnum")
    assert (response.status_code, response.json()["error"]) == (400, "27")


def test_rest_needs_the_api_key(client, bsg_account):
    response = client.get(f"{REST}/reference/abc0", HTTP_X_API_KEY="live_wrong")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


def test_rest_task_counts_its_messages(api, rest):
    campaign_id = send(api, sms_body(phones(30))).json()["data"]["id"]
    clock.advance(130)

    task = rest.get(f"{REST}/task/{campaign_id}").json()

    assert set(task) == TASK_FIELDS
    assert (task["originator"], task["body"], task["currency"]) == ("Best Seller", "test", "EUR")
    assert sum(task[k] for k in ("sent", "delivered", "expired", "undeliverable", "unknown")) == 30
    assert rest.get(f"{REST}/task/99999").json() == {
        "error": "30",
        "errorDescription": "Task not found",
    }


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/sandbox/bsg/api/nothing/here", {"message": "Not found.", "errors": []}),
        ("/sandbox/bsg/rest/sms/x/y", {"error": "404", "errorDescription": "Not found"}),
        ("/sandbox/bsg/", {"message": "Not found.", "errors": []}),
    ],
)
def test_an_unknown_path_is_a_json_404_like_the_api(client, url, body):
    response = client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == body
