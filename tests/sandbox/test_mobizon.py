"""Mobizon emulator: form bodies with bracket keys, the {code, data, message} envelope."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest

from providers.sandbox import accounts, clock

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def call(client, mobizon_account):
    """POST a form (a list of pairs, bracket keys as the docs write them) to Module/Method."""

    def call(module_method: str, pairs=(), *, key=None, prefix="/sandbox/mobizon", **extra):
        query = urlencode({"output": "json", "api": "v1", "apiKey": key or mobizon_account.api_key})
        url = f"{prefix}/service/{module_method}?{query}"
        response = client.post(url, urlencode(list(pairs)), content_type=FORM, **extra)
        assert response.status_code == 200  # errors travel in the envelope's code
        return response.json()

    return call


def create(call, *pairs):
    body = call("Campaign/Create", [("data[from]", "Crier"), ("data[text]", "Hello"), *pairs])
    assert body["code"] == 0, body
    return body["data"]


def add(call, campaign_id, numbers):
    return call(
        "Campaign/AddRecipients", [("id", campaign_id)] + [("recipients[]", n) for n in numbers]
    )


def numbers(n):
    return [str(77010000000 + i) for i in range(n)]


def test_wrong_api_key_is_code_8(call):
    body = call("User/GetOwnBalance", key="K" * 40)
    assert body["code"] == 8
    assert set(body) == {"code", "data", "message"}


def test_wrong_regional_server_is_code_13_naming_the_right_one(call):
    body = call("User/GetOwnBalance", prefix="/sandbox/mobizon/api.mobizon.com.br")
    assert body == {"code": 13, "data": "api.mobizon.kz", "message": body["message"]}
    assert call("User/GetOwnBalance", prefix="/sandbox/mobizon/api.mobizon.kz")["code"] == 0


def test_regional_server_must_look_like_a_mobizon_host(call):
    assert call("User/GetOwnBalance", prefix="/sandbox/mobizon/example.com")["code"] == 13


def test_balance_is_a_four_decimal_string(call):
    assert call("User/GetOwnBalance") == {
        "code": 0,
        "data": {"balance": "50000.0000", "currency": "KZT"},
        "message": "",
    }


def test_get_own_balance_also_answers_get(client, mobizon_account):
    url = f"/sandbox/mobizon/service/user/getownbalance?apiKey={mobizon_account.api_key}"
    assert client.get(url).json()["code"] == 0


def test_docs_create_example_makes_a_template_campaign(call):
    # The body of the docs' curl example (sender swapped for one the account registered).
    body = "data%5Btype%5D=3&data%5Bfrom%5D=Crier&data%5Btext%5D=Hello+%7Bname%7D%21"
    data = create(call, *parse_qsl(body))
    assert isinstance(data, str)
    campaign = call("Campaign/Get", [("id", data)])["data"]
    assert campaign["type"] == "3"
    assert campaign["text"] == "Hello {name}!"
    assert campaign["commonStatus"] == "NEW"


def test_create_validation_lists_fields(call):
    later = (clock.now() + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S")
    body = call(
        "Campaign/Create",
        [("data[text]", ""), ("data[from]", "CrierNew"), ("data[deferredToTs]", later)],
    )
    assert body["code"] == 1
    assert set(body["data"]) == {"text", "from", "deferredToTs"}


def test_add_recipients_reports_each_number(call):
    campaign_id = create(call)
    body = add(call, campaign_id, ["77010000001", "+7 701 000 0002", "123", "77010000001", ""])
    assert body["code"] == 98
    codes = [(item["number"], item["code"]) for item in body["data"]]
    assert codes == [
        ("77010000001", 0),
        ("+7 701 000 0002", 0),
        ("123", 3),
        ("77010000001", 4),
        ("", 1),
    ]
    first = body["data"][0]
    assert first["recipient"] == "77010000001" and isinstance(first["messageId"], str)
    assert "messageId" not in body["data"][3]


def test_duplicates_across_calls_are_code_4_and_nothing_added_is_99(call):
    campaign_id = create(call)
    assert add(call, campaign_id, ["77010000001"])["code"] == 0
    body = add(call, campaign_id, ["77010000001"])
    assert body["code"] == 99
    assert body["data"][0]["code"] == 4


def test_recipients_as_a_comma_string(call):
    campaign_id = create(call)
    body = call(
        "Campaign/AddRecipients", [("id", campaign_id), ("recipients", "77010000001,77010000002")]
    )
    assert [item["code"] for item in body["data"]] == [0, 0]


def test_more_than_500_recipients_is_code_12_and_adds_none(call):
    campaign_id = create(call)
    assert add(call, campaign_id, numbers(501))["code"] == 12
    info = call("Campaign/GetInfo", [("id", campaign_id)])["data"]
    assert info["counters"]["totalMsgNum"] == "0"


def test_two_kinds_of_recipients_is_code_12(call):
    campaign_id = create(call)
    body = call(
        "Campaign/AddRecipients",
        [("id", campaign_id), ("recipients[]", "77010000001"), ("recipientGroups[]", "5")],
    )
    assert body["code"] == 12


def test_template_placeholders_flag_3_rejects_missing_values(call):
    campaign_id = create(call, ("data[type]", "3"), ("data[text]", "Hi {name}"))
    pairs = [
        ("id", campaign_id),
        ("params[placeholdersFlag]", "3"),
        ("recipients[0][recipient]", "77010000001"),
        ("recipients[0][name]", "Ann"),
        ("recipients[1][recipient]", "77010000002"),
    ]
    body = call("Campaign/AddRecipients", pairs)
    assert [item["code"] for item in body["data"]] == [0, 20]


def test_get_info_counters_are_strings_and_price_the_campaign(call):
    campaign_id = create(call)
    add(call, campaign_id, numbers(3))
    counters = call("Campaign/GetInfo", [("id", campaign_id)])["data"]["counters"]
    assert counters["totalMsgNum"] == "3"
    assert counters["totalNewMsgNum"] == "3"
    assert counters["totalCost"] == "48.6000"


def test_send_charges_each_message_once_and_runs_to_done(call, mobizon_account):
    campaign_id = create(call, ("data[name]", "Promo-7"))
    add(call, campaign_id, numbers(30))
    assert call("Campaign/Send", [("id", campaign_id)]) == {"code": 0, "data": 2, "message": ""}
    assert accounts.charges("Promo-7:77010000000") == 1
    mobizon_account.refresh_from_db()
    assert mobizon_account.balance == Decimal("50000") - 30 * Decimal("16.2")
    assert call("Campaign/Get", [("id", campaign_id)])["data"]["commonStatus"] == "RUNNING"
    assert call("Campaign/Send", [("id", campaign_id)])["code"] == 10
    clock.advance(130)
    info = call("Campaign/GetInfo", [("id", campaign_id)])["data"]
    assert info["commonStatus"] == "DONE"
    assert info["endSendTs"] is not None
    finals = ("Delivrd", "Undeliv", "Expired", "Rejectd")
    assert sum(int(info["counters"][f"total{s}MsgNum"]) for s in finals) == 30


def test_recreating_a_campaign_under_the_same_name_shows_in_the_ledger(call):
    for _ in range(2):
        campaign_id = create(call, ("data[name]", "Promo-7"))
        add(call, campaign_id, ["77010000001"])
        call("Campaign/Send", [("id", campaign_id)])
    assert accounts.charged_more_than_once() == {"Promo-7:77010000001": 2}


def test_reference_item_key_is_the_ledger_reference(call):
    campaign_id = create(call)
    pairs = [("id", campaign_id), ("recipients[0][recipient]", "77010000001")]
    call("Campaign/AddRecipients", [*pairs, ("recipients[0][reference]", "ref42")])
    call("Campaign/Send", [("id", campaign_id)])
    assert accounts.charges("ref42") == 1


def test_send_without_recipients_is_code_10(call):
    assert call("Campaign/Send", [("id", create(call))])["code"] == 10


def test_send_beyond_the_balance_is_refused(call, mobizon_account):
    mobizon_account.balance = Decimal("20")
    mobizon_account.save()
    campaign_id = create(call)
    add(call, campaign_id, numbers(2))
    assert call("Campaign/Send", [("id", campaign_id)])["code"] == 15
    assert accounts.charged_more_than_once() == {}
    assert call("Campaign/Get", [("id", campaign_id)])["data"]["commonStatus"] == "NEW"


def test_sms_status_progresses(call):
    campaign_id = create(call)
    ids = [item["messageId"] for item in add(call, campaign_id, numbers(20))["data"]]
    before = call("Message/GetSMSStatus", [("ids[]", i) for i in ids])["data"]
    assert {item["status"] for item in before} == {"NEW"}
    assert before[0]["startSendTs"] is None
    call("Campaign/Send", [("id", campaign_id)])
    clock.advance(130)
    after = call("Message/GetSMSStatus", [("ids", ",".join(ids))])["data"]
    assert {item["status"] for item in after} <= {"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD"}
    assert all(item["statusUpdateTs"] for item in after)
    assert after[0]["segNum"] == "1"


def test_sms_status_limits(call):
    assert call("Message/GetSMSStatus")["code"] == 2
    assert call("Message/GetSMSStatus", [("ids[]", str(i)) for i in range(101)])["code"] == 12
    assert call("Message/GetSMSStatus", [("ids[]", "999999")])["data"] == []


def test_delete_before_send(call):
    campaign_id = create(call)
    assert call("Campaign/Delete", [("id", campaign_id)]) == {
        "code": 0,
        "data": True,
        "message": "",
    }
    campaign = call("Campaign/Get", [("id", campaign_id)])["data"]
    assert campaign["isDeleted"] == "1" and campaign["deletedTs"]
    assert call("Campaign/Send", [("id", campaign_id)])["code"] == 2
    assert call("Campaign/Delete", [("id", campaign_id)])["code"] == 2


def test_delete_after_start_is_code_10(call):
    campaign_id = create(call)
    add(call, campaign_id, numbers(1))
    call("Campaign/Send", [("id", campaign_id)])
    body = call("Campaign/Delete", [("id", campaign_id)])
    assert body["code"] == 10
    assert "started" in body["message"]


def test_delete_deferred_campaign_needs_5_minutes(call, mobizon_account):
    start = (clock.now() + timedelta(hours=1, minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    campaign_id = create(call, ("data[deferredToTs]", start))
    add(call, campaign_id, numbers(2))
    call("Campaign/Send", [("id", campaign_id)])
    get = call("Campaign/Get", [("id", campaign_id)])["data"]
    assert get["commonStatus"] == "AUTO_READY_FOR_SEND"
    clock.advance(57 * 60)  # 4 minutes before the start
    body = call("Campaign/Delete", [("id", campaign_id)])
    assert body["code"] == 10 and "5 minutes" in body["message"]
    clock.reset()
    clock.advance(50 * 60)
    assert call("Campaign/Delete", [("id", campaign_id)])["code"] == 0
    mobizon_account.refresh_from_db()
    assert mobizon_account.balance == Decimal("50000")
    clock.advance(3600)  # past the start it would have had: nothing is sent
    info = call("Campaign/GetInfo", [("id", campaign_id)])["data"]
    assert info["isDeleted"] == "1"
    assert info["counters"]["totalNewMsgNum"] == "2"
    assert info["counters"]["totalDelivrdMsgNum"] == "0"


def test_get_info_total_cost_is_what_stays_charged_after_a_delete(call, mobizon_account):
    start = (clock.now() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    campaign_id = create(call, ("data[deferredToTs]", start))
    add(call, campaign_id, numbers(10))
    call("Campaign/Send", [("id", campaign_id)])
    counters = call("Campaign/GetInfo", [("id", campaign_id)])["data"]["counters"]
    assert counters["totalCost"] == "162.0000"

    assert call("Campaign/Delete", [("id", campaign_id)])["code"] == 0

    counters = call("Campaign/GetInfo", [("id", campaign_id)])["data"]["counters"]
    assert counters["totalCost"] == "0.0000"
    assert counters["totalNewMsgCost"] == "0.0000"
    listed = call("Campaign/List", [("criteria[ids][]", campaign_id)])["data"]["items"]
    assert listed[0]["counters"]["totalCost"] == "0.0000"


def test_list_filters_and_counts_as_string(call):
    first = create(call)
    create(call)
    body = call("Campaign/List", [("criteria[ids][]", first)])["data"]
    assert body["totalItemCount"] == "1"
    assert body["items"][0]["id"] == first
    assert call("Campaign/List")["data"]["totalItemCount"] == "2"


def test_list_defaults_to_the_last_24_hours(call):
    old = create(call)
    clock.advance(2 * 24 * 3600)
    assert call("Campaign/List")["data"]["totalItemCount"] == "0"
    since = (clock.now() - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    assert (
        call("Campaign/List", [("criteria[createTsFrom]", since)])["data"]["totalItemCount"] == "1"
    )
    day = (clock.now() - timedelta(days=3)).strftime("%Y-%m-%d")
    body = call("Campaign/List", [("criteria[createDateFrom]", day)])["data"]
    assert [item["id"] for item in body["items"]] == [old]


def test_get_links_and_unknown_campaign(call):
    assert call("Campaign/GetLinks", [("campaignId", create(call))])["data"] == []
    assert call("Campaign/GetLinks", [("campaignId", "999999")])["code"] == 2


def test_alphanames(call):
    items = call("Alphaname/List")["data"]["items"]
    assert [item["alphaname"]["name"] for item in items] == ["Crier", "CrierDemo", "CrierNew"]
    assert items[2]["globalStatus"] == "MODERATION"


def test_unknown_module_and_method(call):
    assert call("Nope/List")["code"] == 4
    assert call("Campaign/Nope")["code"] == 5


def test_rate_limit_is_code_30(call, mobizon_account):
    mobizon_account.rate_limit_every_n = 2
    mobizon_account.retry_after = 7
    mobizon_account.save()
    assert call("User/GetOwnBalance")["code"] == 0
    assert call("User/GetOwnBalance")["code"] == 30
