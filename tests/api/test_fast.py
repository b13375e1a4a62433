"""POST /api/v1/messages the short way (api/fast.py) and the whole way answer alike, and the
grouped commits (campaigns/grouped.py) store every message once, whatever happens."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from api import fast
from api.models import ApiKey
from campaigns import grouped
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus
from providers.models import SenderName
from tests.api.conftest import client_for
from tests.sendkit import SENDER, sandbox_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]

VOLATILE = ("id", "reference", "created_at", "updated_at")


@pytest.fixture
def route(acme, live_server):
    """A BSG sandbox account with an approved sender and its route's open campaign (made by
    a first message, which the whole way sends)."""
    account, _ = sandbox_account(acme.workspace, "bsg", live_server.url)
    account.senders.create(value=SENDER, status=SenderName.Status.APPROVED)
    api = client_for(acme)
    first = post(api, {"account": account.pk, "to": "+77010000001", "text": "hi", "sender": SENDER})
    assert first.status_code == 202, first.json()
    return account, api


@pytest.fixture
def answered(monkeypatch):
    """Which requests the short way answered itself (True) or passed on (False)."""
    seen: list[bool] = []
    real = fast.accept

    def spy(request):
        response = real(request)
        seen.append(response is not None)
        return response

    monkeypatch.setattr(fast, "accept", spy)
    return seen


def post(api, body, **headers):
    return api.post("/api/v1/messages", body, format="json", headers=headers or None)


def sms(account_, **more) -> dict:
    body = {"account": account_.pk, "to": "+77012223344", "text": "Code {code}", "sender": SENDER}
    return {**body, "fields": {"code": "1"}, **more}


def whole_way(api, body):
    """The same request with the short way switched off."""
    real = fast.accept
    fast.accept = lambda request: None
    try:
        return post(api, body)
    finally:
        fast.accept = real


def comparable(response) -> tuple[int, dict]:
    body = response.json()
    return response.status_code, {k: v for k, v in body.items() if k not in VOLATILE}


def test_a_plain_sms_is_answered_the_short_way_as_the_whole_way_answers(route, answered):
    account, api = route
    body = sms(
        account,
        to="  +7 701 222 33 44 ",
        text=" Ваш код {code} ",
        fields={"code": " 4711 "},
        unknown="ignored, as the serializer ignores it",
    )
    short = post(api, body)
    assert answered == [True]
    assert short.status_code == 202, short.json()
    whole = whole_way(api, body)
    assert comparable(short) == comparable(whole)
    assert short.json()["fields"] == {"text": "Ваш код 4711"}
    # What it answered is what the message is, as GET shows it.
    shown = api.get(f"/api/v1/messages/{short.json()['id']}")
    assert shown.json() == short.json()
    assert short["Content-Type"] == "application/json"
    assert short["Content-Length"] == str(len(short.content))
    assert Message.objects.filter(phone="+77012223344").count() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"account": True},
        {"account": "ACCOUNT"},  # the account's id as a string: the serializer converts it
        {"account": 999_999},
        {"to": "12"},
        {"to": 77012223344},
        {"to": "   "},
        {"to": None},
        {"text": ""},
        {"text": "x" * 2001},
        {"text": "Your code {code}", "fields": {}},
        {"text": "nul \x00 inside"},
        {"fields": {"code": 4711}},
        {"fields": ["code"]},
        {"fields": None},
        {"sender": "Nobody"},
        {"sender": "S" * 41},
        {"channel": "voice"},
        {"channel": "fax"},
        {"voice": "ostap"},
        {"language": "en"},
    ],
)
def test_what_is_not_plainly_valid_goes_the_whole_way(route, answered, change):
    account, api = route
    body = sms(account, **change)
    if change.get("account") == "ACCOUNT":
        body["account"] = str(account.pk)
    before = Message.objects.count()
    response = post(api, body)
    assert answered == [False]
    expected = whole_way(api, body)
    assert comparable(response) == comparable(expected)
    stored = Message.objects.count() - before
    assert stored == (2 if response.status_code == 202 else 0)


def test_an_opted_out_number_is_refused_as_before_and_not_stored(acme, route, answered):
    account, api = route
    body = {"account": account.pk, "to": acme.stop_entry.phone, "text": "hi", "sender": SENDER}
    before = Message.objects.count()
    response = post(api, body)
    assert answered == [False]  # the short way found it opted out and let the whole way say so
    assert response.status_code == 422
    assert response.json()["type"] == "/api/v1/problems/opted-out"
    assert Message.objects.count() == before


def test_keys_scopes_and_bodies_the_short_way_leaves_alone(acme, route, answered):
    account, api = route
    body = {"account": account.pk, "to": "+77012223344", "text": "hi", "sender": SENDER}
    reader = client_for(acme, ["read"], name="Reader")
    assert post(reader, body).status_code == 403
    revoked = client_for(acme, name="Revoked")
    ApiKey.objects.filter(name="Revoked").update(revoked_at="2026-01-01T00:00Z")
    assert post(revoked, body).status_code == 401
    wrong = client_for(acme, name="Wrong")
    wrong.credentials(HTTP_AUTHORIZATION="Bearer " + wrong.key_text[:-2] + "xx")
    assert post(wrong, body).status_code == 401
    assert post(api, body, **{"Idempotency-Key": "k1"}).status_code == 202
    text = api.post("/api/v1/messages", "not json", content_type="application/json")
    assert text.status_code == 400
    assert answered == [False] * 5


def test_the_first_message_of_a_route_goes_the_whole_way_and_the_next_the_short_way(
    acme, live_server, answered
):
    account, _ = sandbox_account(acme.workspace, "bsg", live_server.url)
    account.senders.create(value=SENDER, status=SenderName.Status.APPROVED)
    api = client_for(acme)
    body = {"account": account.pk, "to": "+77012223344", "text": "hi", "sender": SENDER}
    assert post(api, body).status_code == 202
    assert post(api, {**body, "to": "+77012223345"}).status_code == 202
    assert answered == [False, True]
    assert Campaign.objects.filter(transactional=True).count() == 1
    Campaign.objects.update(status=CampaignStatus.PAUSED)  # paused: still taken, waits
    assert post(api, {**body, "to": "+77012223346"}).status_code == 202
    assert answered[-1] is True
    Campaign.objects.update(status=CampaignStatus.CANCELLED)  # stopped: a new campaign
    assert post(api, {**body, "to": "+77012223347"}).status_code == 202
    assert answered[-1] is False
    assert Campaign.objects.filter(transactional=True).count() == 2


def test_the_short_way_keeps_the_keys_rate_limit_and_last_use(acme, route, answered):
    account, _ = route
    api = client_for(acme, name="Limited")
    ApiKey.objects.update(last_used_at=None)
    body = {"account": account.pk, "to": "+77012223344", "text": "hi", "sender": SENDER}
    with override_settings(CRIER_API_RATE="2/min"):
        answers = [post(api, {**body, "to": f"+7701222334{i}"}) for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2]["Retry-After"]
    assert answered == [True, True, False]
    assert ApiKey.objects.filter(last_used_at__isnull=False).count() == 1


def rows(workspace_id, campaign_id, count, start=0):
    return [
        grouped.Row(workspace_id, campaign_id, f"+7701{start + i:07d}", "KZ", "mobile", {"t": i})
        for i in range(count)
    ]


def test_messages_waiting_together_share_one_commit_and_each_gets_its_own(acme, route):
    campaign = Campaign.objects.get(transactional=True)
    writer = grouped.Writer()
    groups = []
    real = grouped.write

    def counting(batch):
        groups.append(len(batch))
        return real(batch)

    grouped.write = counting
    try:
        # Hold the campaign's counters row: the writer's first group waits behind it while
        # the other requests queue up.
        opted_out = acme.stop_entry.phone
        batch = rows(acme.workspace.pk, campaign.pk, 19)
        batch.append(grouped.Row(acme.workspace.pk, campaign.pk, opted_out, "KZ", "", {}))
        results = [None] * len(batch)
        with transaction.atomic():
            Campaign.objects.select_for_update().filter(pk=campaign.pk).exists()
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE campaigns_campaigncounters SET total = total WHERE campaign_id = %s",
                    [campaign.pk],
                )

            def request(i):
                results[i] = writer.store(batch[i])

            threads = [threading.Thread(target=request, args=(i,)) for i in range(len(batch))]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while writer._queue.qsize() + sum(groups) < len(batch):
                assert time.monotonic() < deadline, "the requests did not queue up"
                time.sleep(0.01)
        for t in threads:
            t.join(30)
    finally:
        grouped.write = real
        writer.stop()
    assert sum(groups) == 20 and len(groups) < 20
    stored = [r for r in results if r is not None]
    assert len(stored) == 19 and results[19] is None
    assert {m.phone for m in stored} == set(
        Message.objects.filter(pk__in=[m.pk for m in stored]).values_list("phone", flat=True)
    )
    assert all(m.status == "pending" and m.raw_status == "" for m in stored)
    assert not Message.objects.filter(phone=opted_out).exists()


def test_a_failed_write_answers_every_waiting_request_and_the_writer_goes_on(route, answered):
    account, api = route
    body = {"account": account.pk, "to": "+77012223344", "text": "hi", "sender": SENDER}
    real = grouped.write

    def failing(batch):
        raise OperationalError("the server closed the connection unexpectedly")

    grouped.write = failing
    try:
        response = post(api, body)
    finally:
        grouped.write = real
    assert response.status_code == 500
    assert response.json()["type"] == "/api/v1/problems/server-error"
    assert "Idempotency-Key" in response.json()["detail"]
    assert post(api, {**body, "to": "+77012223345"}).status_code == 202
    assert answered == [True, True]


def test_inside_a_transaction_the_message_is_written_in_it(acme, route):
    campaign = Campaign.objects.get(transactional=True)
    with transaction.atomic():
        message = grouped.writer.store(rows(acme.workspace.pk, campaign.pk, 1, 500)[0])
        assert Message.objects.filter(pk=message.pk).exists()
        transaction.set_rollback(True)
    assert not Message.objects.filter(pk=message.pk).exists()


def test_the_short_way_reads_the_key_and_the_route_and_nothing_else(route, answered):
    account, api = route
    post(api, sms(account, to="+77012223340"))  # the key's last use is touched once a minute
    with CaptureQueriesContext(connection) as queries:
        response = post(api, sms(account, to="+77012223341"))
    assert response.status_code == 202 and answered == [True, True]
    # The message itself is written by the writer's thread, on its own connection. On
    # PostgreSQL the one read goes straight through psycopg, which Django does not count: a
    # field of the campaign read later, on first use, would be counted.
    expected = 0 if connection.vendor == "postgresql" else 1
    assert len(queries) == expected, [q["sql"][:80] for q in queries]
