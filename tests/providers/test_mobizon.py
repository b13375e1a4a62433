"""Mobizon adapter: form bracket keys, the {code, data, message} envelope, strings as numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from providers.base import BatchState, CampaignSpec, ShortLink
from providers.errors import (
    AuthError,
    DuplicateReference,
    InvalidRequest,
    NotFound,
    PermanentError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from providers.mobizon.adapter import MobizonAdapter
from providers.mobizon.errors import API_ERRORS, RECIPIENT_ERRORS
from tests.providers.conftest import MOBIZON_KEY, form_fields, message

HOST = "api.mobizon.kz"


def ok(data, code=0, message=""):
    return httpx.Response(200, json={"code": code, "data": data, "message": message})


def route(api, method_path, verb="POST"):
    return api.route(method=verb, host=HOST, path=f"/service/{method_path}")


def added(*numbers, code=0):
    return [
        {"recipient": n, "code": code, "messageId": f"9{n[-6:]}", "type": "number", "number": n}
        for n in numbers
    ]


@pytest.fixture
def flow(api):
    """Create -> AddRecipients -> Send, answering like the captured payloads."""
    routes = {
        "create": route(api, "Campaign/Create").mock(return_value=ok("70000000006")),
        "add": route(api, "Campaign/AddRecipients"),
        "send": route(api, "Campaign/Send").mock(return_value=ok(2)),
    }

    def add_answer(request):
        numbers = [v for k, v in form_fields(request) if k in ("recipients[]",)]
        numbers += [v for k, v in form_fields(request) if k.endswith("[recipient]")]
        return ok(added(*numbers))

    routes["add"].side_effect = add_answer
    return routes


def test_resolve_base_url_uses_the_regional_domain():
    assert MobizonAdapter.resolve_base_url({"domain": "mobizon.com.br"}) == (
        "https://api.mobizon.com.br"
    )
    assert MobizonAdapter(credentials={}).base_url == "https://api.mobizon.kz"


def test_create_request_url_query_and_form(mobizon, flow):
    spec = CampaignSpec(sender="Alpha", text="Hello world!", name="Black Friday")
    mobizon.submit(spec, [message("+77011234567", "r1")], BatchState(key="d1"))
    request = flow["create"].calls[0].request
    assert request.method == "POST"
    assert request.url.path == "/service/Campaign/Create"
    assert request.url.query.decode() == f"output=json&api=v1&apiKey={MOBIZON_KEY}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_fields(request) == [
        ("data[name]", "Black Friday [d1]"),
        ("data[text]", "Hello world!"),
        ("data[type]", "2"),
        ("data[from]", "Alpha"),
    ]
    assert b"data%5Btext%5D=Hello+world%21" in request.content  # spaces as +, brackets encoded


def test_create_with_every_option(mobizon, flow):
    spec = CampaignSpec(
        sender="Alpha",
        text="Hi",
        start_at=datetime(2030, 1, 2, 8, 4, 5, tzinfo=UTC) + timedelta(hours=5),
        validity=timedelta(hours=3),
        rate_limit=600,
        rate_period=timedelta(hours=1),
        flash=True,
    )
    mobizon.submit(spec, [message("+77011234567")], BatchState(key="k"))
    fields = dict(form_fields(flow["create"].calls[0].request))
    assert fields["data[deferredToTs]"] == "2030-01-02 13:04:05"
    assert fields["data[validity]"] == "180"
    assert fields["data[mclass]"] == "0"
    assert (fields["data[rateLimit]"], fields["data[ratePeriod]"]) == ("600", "3600")


def test_template_campaign_matches_the_documented_example(mobizon, flow):
    spec = CampaignSpec(
        sender="Alpha", text="Hello {name}! Your balance by {date} is {balance}{currency}."
    )
    variables = {"name": "Markus", "date": "26.10.17", "balance": "555.45", "currency": "eur"}
    mobizon.submit(spec, [message("+4901122211112", "r1", variables=variables)], BatchState())
    create = flow["create"].calls[0].request
    assert dict(form_fields(create)) | {"data[name]": ""} == {
        "data[name]": "",
        "data[type]": "3",
        "data[from]": "Alpha",
        "data[text]": "Hello {name}! Your balance by {date} is {balance}{currency}.",
    }
    assert b"data%5Btext%5D=Hello+%7Bname%7D%21+Your+balance+by" in create.content
    assert form_fields(flow["add"].calls[0].request) == [
        ("id", "70000000006"),
        ("recipients[0][recipient]", "4901122211112"),
        ("recipients[0][name]", "Markus"),
        ("recipients[0][date]", "26.10.17"),
        ("recipients[0][balance]", "555.45"),
        ("recipients[0][currency]", "eur"),
        ("params[placeholdersFlag]", "3"),
    ]


def test_personalised_texts_ride_a_one_placeholder_template(mobizon, flow):
    batch = [message("+77011234567", "r1", text="Hi Ann"), message("+77011234568", "r2")]
    mobizon.submit(CampaignSpec(sender="A", text="Hi all"), batch, BatchState())
    assert dict(form_fields(flow["create"].calls[0].request))["data[text]"] == "{text}"
    fields = form_fields(flow["add"].calls[0].request)
    assert ("recipients[0][text]", "Hi Ann") in fields
    assert ("recipients[1][text]", "Hi all") in fields


def test_bulk_recipients_use_the_documented_flat_form(mobizon, flow):
    batch = [message("+380971112233", "a"), message("+79101112233", "b")]
    submission = mobizon.submit(CampaignSpec(sender="A", text="x"), batch, BatchState())
    request = flow["add"].calls[0].request
    assert request.url.query.decode() == f"output=json&api=v1&apiKey={MOBIZON_KEY}"
    assert form_fields(request) == [
        ("id", "70000000006"),
        ("recipients[]", "380971112233"),
        ("recipients[]", "79101112233"),
    ]
    assert b"recipients%5B%5D=380971112233&recipients%5B%5D=79101112233" in request.content
    assert form_fields(flow["send"].calls[0].request) == [("id", "70000000006")]
    assert submission.provider_campaign_id == "70000000006"
    assert [(r.reference, r.accepted, r.provider_message_id) for r in submission.results] == [
        ("a", True, "9112233"),
        ("b", True, "9112233"),
    ]
    assert submission.campaign_status == "sending"


def test_recipients_are_added_500_at_a_time(mobizon, flow):
    batch = [message(f"+7701{n:07d}") for n in range(1_200)]
    submission = mobizon.submit(CampaignSpec(sender="A", text="x"), batch, BatchState())
    sizes = [
        sum(1 for key, _ in form_fields(call.request) if key == "recipients[]")
        for call in flow["add"].calls
    ]
    assert sizes == [500, 500, 200]
    assert flow["create"].call_count == 1
    assert flow["send"].call_count == 1
    assert len(submission.results) == 1_200


def test_batch_over_the_limit_is_refused_before_any_request(api, mobizon):
    batch = [
        message(f"+7701{n:07d}") for n in range(MobizonAdapter.capabilities.max_batch_size + 1)
    ]
    with pytest.raises(InvalidRequest):
        mobizon.submit(CampaignSpec(sender="A", text="x"), batch, BatchState())
    assert api.calls.call_count == 0


def test_campaign_id_is_reported_before_recipients_are_added(mobizon, flow):
    seen = []

    def on_created(campaign_id):
        seen.append((campaign_id, flow["add"].call_count))

    mobizon.submit(
        CampaignSpec(sender="A", text="x"),
        [message("+77011234567")],
        BatchState(on_created=on_created),
    )
    assert seen == [("70000000006", 0)]


def test_resuming_reuses_the_campaign_and_goes_on_where_the_last_try_stopped(mobizon, flow):
    batch = [message(f"+7701{n:07d}") for n in range(600)]
    first_try = BatchState(key="k")
    flow["send"].mock(return_value=httpx.Response(429))
    with pytest.raises(RateLimited):
        mobizon.submit(CampaignSpec(sender="A", text="x"), batch, first_try)
    assert flow["add"].call_count == 2  # all 600 added, then Send was refused

    retry = BatchState(key="k", provider_campaign_id="70000000006", progress=first_try.progress)
    flow["send"].mock(return_value=ok(2))
    submission = mobizon.submit(CampaignSpec(sender="A", text="x"), batch, retry)

    assert flow["create"].call_count == 1
    assert flow["add"].call_count == 2  # none added again: the retry went straight to Send
    assert all("params[replace]" not in dict(form_fields(c.request)) for c in flow["add"].calls)
    assert [r.accepted for r in submission.results] == [True] * 600
    assert len({r.provider_message_id for r in submission.results}) == 600


def test_a_retry_after_a_rate_limit_mid_batch_adds_only_the_rest(mobizon, flow):
    batch = [message(f"+7701{n:07d}") for n in range(1200)]
    answers = iter([None, httpx.Response(429)])
    original = flow["add"].side_effect

    def add_then_refuse(request):
        answer = next(answers, None)
        return answer if answer is not None else original(request)

    flow["add"].side_effect = add_then_refuse
    state = BatchState(key="k")
    with pytest.raises(RateLimited):
        mobizon.submit(CampaignSpec(sender="A", text="x"), batch, state)
    assert [len(notes) for notes in state.progress.values()] == [500]  # the first call's

    mobizon.submit(CampaignSpec(sender="A", text="x"), batch, state)

    taken = [call for call in flow["add"].calls if call.response.status_code == 200]
    added_numbers = [v for c in taken for k, v in form_fields(c.request) if k == "recipients[]"]
    assert len(added_numbers) == 1200 and len(set(added_numbers)) == 1200


def test_each_add_call_is_noted_once_under_a_key_of_its_own(mobizon, flow):
    batch = [message(f"+7701{n:07d}") for n in range(1200)]
    saved = []
    state = BatchState(key="k", on_progress=saved.append)
    mobizon.submit(CampaignSpec(sender="A", text="x"), batch, state)

    assert [sorted(notes) for notes in saved] == [
        ["added_0"],
        ["added_1"],
        ["added_2"],
        ["send_requested"],
    ]
    assert [len(saved[n][f"added_{n}"]) for n in range(3)] == [500, 500, 200]


def test_a_batch_noted_in_one_list_before_resumes_where_it_stopped(mobizon, flow):
    batch = [message(f"+7701{n:07d}") for n in range(600)]
    earlier = [[m.reference, True, f"8{n}", "", ""] for n, m in enumerate(batch[:500])]
    state = BatchState(key="k", provider_campaign_id="70000000006", progress={"added": earlier})
    submission = mobizon.submit(CampaignSpec(sender="A", text="x"), batch, state)

    assert flow["create"].call_count == 0 and flow["add"].call_count == 1  # the last 100 only
    assert submission.results[0].provider_message_id == "80"
    assert "added" in state.progress and "added_1" in state.progress  # numbered after it


@pytest.mark.parametrize("placeholders", [1, 3, 10])
def test_personalised_recipients_are_added_in_calls_of_at_most_1000_form_fields(
    mobizon, flow, placeholders
):
    values = {f"v{n}": "x" for n in range(placeholders)}
    batch = [message(f"+7701{n:07d}", variables=values) for n in range(2000)]
    text = " ".join(f"{{v{n}}}" for n in range(placeholders))

    mobizon.submit(CampaignSpec(sender="A", text=text), batch, BatchState())

    sizes = [len(form_fields(c.request)) for c in flow["add"].calls]
    assert max(sizes) <= 1000
    added_numbers = [
        v for c in flow["add"].calls for k, v in form_fields(c.request) if k.endswith("[recipient]")
    ]
    assert len(added_numbers) == 2000


def test_an_answer_that_the_campaign_was_sent_already_is_a_duplicate_not_a_failure(mobizon, flow):
    flow["send"].mock(
        return_value=httpx.Response(200, json={"code": 10, "data": "", "message": ""})
    )
    with pytest.raises(DuplicateReference):
        mobizon.submit(CampaignSpec(sender="A", text="x"), [message("+77011234567")], BatchState())


def test_send_to_moderation(mobizon, flow):
    flow["send"].mock(return_value=ok(1))
    submission = mobizon.submit(
        CampaignSpec(sender="A", text="x"), [message("+77011234567")], BatchState()
    )
    assert submission.campaign_status == "moderation"


def test_partial_add_reports_each_recipient(mobizon, flow):
    items = [
        *added("77011234567"),
        {"recipient": "77000", "code": 3, "number": "77000"},
        {"recipient": "77011234569", "code": 5, "number": "77011234569"},
    ]
    flow["add"].side_effect = None
    flow["add"].mock(return_value=ok(items, code=98))
    batch = [message("+77011234567", "a"), message("+77000", "b"), message("+77011234569", "c")]
    submission = mobizon.submit(CampaignSpec(sender="A", text="x"), batch, BatchState())
    assert [(r.reference, r.accepted, r.error_code) for r in submission.results] == [
        ("a", True, ""),
        ("b", False, "3"),
        ("c", False, "5"),
    ]
    assert submission.results[1].reason == "The number is not in international format."
    assert flow["send"].call_count == 1


def test_nothing_added_means_nothing_sent(mobizon, flow):
    flow["add"].side_effect = None
    flow["add"].mock(return_value=ok([{"recipient": "1", "code": 3, "number": "1"}], code=99))
    submission = mobizon.submit(CampaignSpec(sender="A", text="x"), [message("+1")], BatchState())
    assert submission.campaign_status == "failed"
    assert flow["send"].call_count == 0


@pytest.mark.parametrize("code", sorted(RECIPIENT_ERRORS))
def test_every_recipient_code(mobizon, flow, code):
    flow["add"].side_effect = None
    item = {"recipient": "77011234567", "code": code, "number": "77011234567"}
    flow["add"].mock(return_value=ok([item, *added("77011234568")], code=98))
    batch = [message("+77011234567", "a"), message("+77011234568", "b")]
    [result, _] = mobizon.submit(CampaignSpec(sender="A", text="x"), batch, BatchState()).results
    if code == 4:  # already in the campaign: an earlier try added it
        assert result.accepted
    else:
        assert (result.accepted, result.error_code, result.reason) == (
            False,
            str(code),
            RECIPIENT_ERRORS[code],
        )


def test_garbled_send_answer_is_unknown_outcome(mobizon, flow):
    flow["send"].mock(return_value=httpx.Response(200, content=b"<b>Fatal error</b>"))
    with pytest.raises(UnknownOutcome):
        mobizon.submit(CampaignSpec(sender="A", text="x"), [message("+7701")], BatchState())


def test_timeout_on_send_is_unknown_outcome_and_hides_the_key(mobizon, flow):
    flow["send"].mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(UnknownOutcome) as caught:
        mobizon.submit(CampaignSpec(sender="A", text="x"), [message("+7701")], BatchState())
    assert "apiKey=***" in caught.value.detail
    assert MOBIZON_KEY not in str(caught.value) + caught.value.detail + repr(caught.value)


# --- Tracking ------------------------------------------------------------------------------

GET_INFO = {
    "id": "70000000006",
    "commonStatus": "RUNNING",
    "moderationStatus": "AUTO_READY_FOR_SEND",
    "deferredToTs": None,
    "isDeleted": "0",
    "currency": "KZT",
    "counters": {
        "campaignId": "70000000006",
        "updateTs": "2026-06-24 23:13:16",
        "totalNewMsgNum": "1",
        "totalEnqueudMsgNum": "2",
        "totalAcceptdMsgNum": "3",
        "totalDelivrdMsgNum": "4",
        "totalRejectdMsgNum": "5",
        "totalExpiredMsgNum": "6",
        "totalUndelivMsgNum": "7",
        "totalDeletedMsgNum": "8",
        "totalUnknownMsgNum": "9",
        "totalPdlivrdMsgNum": "10",
        "totalSegNum": "55",
        "totalMsgNum": "55",
        "totalCost": "16.2000",
        "userCurrency": "KZT",
        "recipientsRejected": "0",
    },
}


def test_get_info_counters_and_cost(api, mobizon):
    info = route(api, "Campaign/GetInfo").mock(return_value=ok(GET_INFO))
    stats = mobizon.campaign_stats("70000000006")
    assert form_fields(info.calls[0].request) == [
        ("id", "70000000006"),
        ("getFilledTplCampaignText", "0"),
    ]
    assert stats.counters == {
        "queued": 3,
        "sent": 13,
        "delivered": 4,
        "undelivered": 15,
        "expired": 6,
        "rejected": 5,
        "unknown": 9,
    }
    assert stats.cost == Decimal("16.2000")
    assert stats.currency == "KZT"
    assert stats.total == 55
    assert (stats.campaign_status, stats.raw_status) == ("sending", "RUNNING")


def test_ready_campaign_with_a_future_start_is_scheduled(api, mobizon):
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    data = GET_INFO | {"commonStatus": "READY_FOR_SEND", "deferredToTs": future}
    route(api, "Campaign/GetInfo").mock(return_value=ok(data))
    assert mobizon.campaign_stats("1").campaign_status == "scheduled"


def test_deleted_campaign_is_cancelled(api, mobizon):
    route(api, "Campaign/GetInfo").mock(return_value=ok(GET_INFO | {"isDeleted": "1"}))
    assert mobizon.campaign_stats("1").campaign_status == "cancelled"


def test_get_sms_status_100_ids_per_call(api, mobizon):
    status = route(api, "Message/GetSMSStatus")

    def answer(request):
        ids = [v for k, v in form_fields(request) if k == "ids[]"]
        return ok(
            [
                {
                    "id": i,
                    "status": "ACCEPTD",
                    "segNum": "1",
                    "startSendTs": "2026-06-24 23:13:16",
                    "statusUpdateTs": "2026-06-24 23:13:16",
                }
                for i in ids
            ]
        )

    status.side_effect = answer
    ids = [str(70000000000 + n) for n in range(250)]
    reports = mobizon.message_statuses("1", ids)
    sizes = [sum(1 for k, _ in form_fields(c.request) if k == "ids[]") for c in status.calls]
    assert sizes == [100, 100, 50]
    assert [r.provider_message_id for r in reports] == ids
    assert (reports[0].status, reports[0].final, reports[0].raw_status) == (
        "sent",
        False,
        "ACCEPTD",
    )
    assert reports[0].updated_at == datetime(2026, 6, 24, 23, 13, 16)
    assert reports[0].error_reason == ""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("REJECTD", "Rejected by the operator"),
        ("UNDELIV", "Not delivered"),
        ("DELETED", "Removed by operator restrictions"),
        ("DELIVRD", ""),
    ],
)
def test_a_message_not_delivered_says_why_in_mobizon_s_words(api, mobizon, raw, reason):
    route(api, "Message/GetSMSStatus").mock(return_value=ok([{"id": "7", "status": raw}]))

    [report] = mobizon.message_statuses("1", ["7"])

    assert report.error_reason == reason


def test_list_campaigns(api, mobizon):
    listing = route(api, "Campaign/List").mock(
        return_value=ok(
            {
                "items": [
                    {
                        "id": "7",
                        "name": "Promo",
                        "commonStatus": "DONE",
                        "createTs": "2026-06-24 10:00:00",
                    }
                ],
                "totalItemCount": "1",
            }
        )
    )
    [campaign] = mobizon.list_campaigns()
    fields = form_fields(listing.calls[0].request)
    # The criteria names of provider-docs/mobizon-campaign-api.txt ("Receipt of the campaigns
    # list"): a date and a time of day each way.
    assert [k for k, _ in fields] == [
        "criteria[createDateFrom]",
        "criteria[createTimeFrom]",
        "criteria[createDateTo]",
        "criteria[createTimeTo]",
        "pagination[pageSize]",
        "pagination[currentPage]",
        "sort[id]",
    ]
    assert (campaign.provider_campaign_id, campaign.status) == ("7", "completed")
    criteria = dict(fields[:4])
    since = datetime.strptime(
        f"{criteria['criteria[createDateFrom]']} {criteria['criteria[createTimeFrom]']}",
        "%Y-%m-%d %H:%M:%S",
    ).replace(tzinfo=UTC)
    assert timedelta(days=30) <= datetime.now(UTC) - since < timedelta(days=30, minutes=1)


def test_get_and_get_links(api, mobizon):
    route(api, "Campaign/Get").mock(
        return_value=ok({"id": "7", "name": "P", "commonStatus": "SENT"})
    )
    links = route(api, "Campaign/GetLinks").mock(
        return_value=ok(
            [
                {
                    "id": "1",
                    "code": "ab",
                    "fullLink": "https://x.kz",
                    "shortLink": "https://mbz.kz/ab",
                    "clickCnt": "12",
                    "redirectCnt": "10",
                    "comment": "",
                },
            ]
        )
    )
    assert mobizon.campaign("7").status == "sent"
    assert mobizon.links("7") == [
        ShortLink("ab", "https://x.kz", "https://mbz.kz/ab", clicks=12, redirects=10)
    ]
    assert form_fields(links.calls[0].request) == [("campaignId", "7")]


def test_delete(api, mobizon):
    deleted = route(api, "Campaign/Delete").mock(return_value=ok(True))
    mobizon.delete("123")
    assert form_fields(deleted.calls[0].request) == [("id", "123")]


def test_delete_too_late_says_why(api, mobizon):
    route(api, "Campaign/Delete").mock(return_value=ok(None, code=10, message="Cannot delete"))
    with pytest.raises(PermanentError, match="at least 5 minutes before its start time"):
        mobizon.delete("123")


def test_account_info(api, mobizon):
    balance = route(api, "User/GetOwnBalance", verb="GET").mock(
        return_value=ok({"balance": "1520.5000", "currency": "KZT"})
    )
    route(api, "Alphaname/List").mock(
        return_value=ok(
            {
                "items": [
                    {
                        "alphanameId": "5",
                        "alphaname": {"name": "ACME"},
                        "globalStatus": "ACTIVE",
                        "partnerStatus": "ACTIVE",
                        "description": "",
                    }
                ],
                "totalItemCount": "1",
            }
        )
    )
    info = mobizon.account_info()
    assert balance.calls[0].request.content == b""
    assert balance.calls[0].request.url.query.decode() == f"output=json&api=v1&apiKey={MOBIZON_KEY}"
    assert info.balance == Decimal("1520.5000")
    assert info.currency == "KZT"
    assert [(s.value, s.status) for s in info.senders] == [("ACME", "approved")]


def test_quote_builds_a_draft_reads_its_cost_and_deletes_it(api, mobizon, flow):
    route(api, "Campaign/GetInfo").mock(return_value=ok(GET_INFO))
    deleted = route(api, "Campaign/Delete").mock(return_value=ok(True))
    quote = mobizon.quote(CampaignSpec(sender="A", text="x"), [message("+77011234567")])
    assert (quote.total, quote.currency) == (Decimal("16.2000"), "KZT")
    assert form_fields(deleted.calls[0].request) == [("id", "70000000006")]
    assert flow["send"].call_count == 0


# --- Every API code ------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(API_ERRORS))
def test_every_api_code(api, mobizon, code):
    error_class, sentence = API_ERRORS[code]
    route(api, "Campaign/Get").mock(return_value=ok(None, code=code, message="raw text"))
    with pytest.raises(error_class) as caught:
        mobizon.campaign("1")
    assert str(caught.value) == sentence
    assert caught.value.code == str(code)


def test_validation_error_names_the_field(api, mobizon):
    route(api, "Campaign/Create").mock(
        return_value=ok({"from": "Sender name is not registered"}, code=1)
    )
    with pytest.raises(InvalidRequest) as caught:
        mobizon.submit(CampaignSpec(sender="Nope", text="x"), [message("+7701")], BatchState())
    assert caught.value.field == "from"
    assert "Sender name is not registered" in str(caught.value)


def test_code_13_names_the_right_regional_domain(api, mobizon):
    route(api, "User/GetOwnBalance", verb="GET").mock(
        return_value=ok("api.mobizon.uz", code=13, message="Wrong server")
    )
    with pytest.raises(InvalidRequest) as caught:
        mobizon.account_info()
    assert "mobizon.uz" in str(caught.value)
    assert caught.value.field == "domain"


def test_code_30_is_rate_limited(api, mobizon):
    route(api, "Campaign/Get").mock(return_value=ok(None, code=30))
    with pytest.raises(RateLimited) as caught:
        mobizon.campaign("1")
    assert caught.value.retry_after is None


def test_code_30_honours_a_retry_after_header(api, mobizon):
    answer = ok(None, code=30)
    answer.headers["Retry-After"] = "4"
    route(api, "Campaign/Get").mock(return_value=answer)
    with pytest.raises(RateLimited) as caught:
        mobizon.campaign("1")
    assert caught.value.retry_after == 4


def test_code_8_is_auth_error(api, mobizon):
    route(api, "Campaign/Get").mock(return_value=ok(None, code=8, message="Bad key"))
    with pytest.raises(AuthError):
        mobizon.campaign("1")


def test_code_2_is_not_found(api, mobizon):
    route(api, "Campaign/GetInfo").mock(return_value=ok(None, code=2))
    with pytest.raises(NotFound):
        mobizon.campaign_stats("1")


def test_temporary_code_on_a_send_becomes_unknown_outcome(mobizon, flow):
    flow["send"].mock(return_value=ok(None, code=999))
    with pytest.raises(UnknownOutcome):
        mobizon.submit(CampaignSpec(sender="A", text="x"), [message("+7701")], BatchState())


def test_temporary_code_on_a_read_stays_temporary(api, mobizon):
    route(api, "Campaign/Get").mock(return_value=ok(None, code=3))
    with pytest.raises(TemporaryError):
        mobizon.campaign("1")


def test_missing_envelope_is_temporary_on_a_read(api, mobizon):
    route(api, "Campaign/Get").mock(
        return_value=httpx.Response(200, content=json.dumps([1]).encode())
    )
    with pytest.raises(TemporaryError):
        mobizon.campaign("1")
