# ruff: noqa: F811  (the fixtures of tests/api/test_fast.py, imported, are parameters here)
"""Review of the short way (api/fast.py, campaigns/grouped.py): inputs and events where it
answers otherwise than the whole way, or than the product promises. Each test failed on the
short way as first written (review of branch ``accept``) and passes since its fix."""

from __future__ import annotations

import codecs
import json
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from api import fast
from campaigns import grouped, services
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus
from tests.api.conftest import client_for
from tests.api.test_fast import post, route, sms, whole_way  # noqa: F401
from tests.sendkit import SENDER

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]


@pytest.mark.parametrize(
    "change",
    [
        {"voice": None},
        {"language": None},
        {"voice": False},
        {"voice": 0},
        {"language": []},
        {"voice": {}},
    ],
)
def test_a_falsy_voice_or_language_the_serializer_refuses_is_not_accepted(route, change):
    """The short way checks ``voice``/``language`` by truthiness; the serializer refuses null,
    booleans, lists and dicts, and an SMS with voice "0" is refused by transactional.send."""
    account, api = route
    body = sms(account, **change)
    before = Message.objects.count()
    whole = whole_way(api, body)
    assert whole.status_code == 400
    short = post(api, body)
    assert short.status_code == whole.status_code, short.json()
    assert Message.objects.count() == before


def _raw_json(body: dict, encode) -> bytes:
    return encode(json.dumps(body))


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda t: codecs.BOM_UTF8 + t.encode(), id="utf-8 BOM"),
        pytest.param(lambda t: t.encode("utf-16"), id="utf-16"),
        pytest.param(lambda t: t.encode("utf-32-le"), id="utf-32"),
        pytest.param(
            lambda t: (
                t.replace('"code": "1"', '"code": "1", "SURROGATE": ""')
                .encode()
                .replace(b"SURROGATE", b"\xed\xa0\x80")
            ),
            id="an encoded surrogate in a field's name",
        ),
    ],
)
def test_a_body_drfs_json_parser_refuses_is_not_accepted(route, encode):
    """json.loads(bytes) guesses UTF-16/32, skips a BOM and lets encoded surrogates through
    (surrogatepass); DRF's parser reads UTF-8 strictly (the charset says so) and answers
    400."""
    account, api = route
    raw = _raw_json(sms(account), encode)
    whole_api = client_for_same(api)
    before = Message.objects.count()
    with short_way_off():
        whole = whole_api.post("/api/v1/messages", raw, content_type="application/json")
    assert whole.status_code == 400
    short = api.post("/api/v1/messages", raw, content_type="application/json")
    assert short.status_code == 400
    assert Message.objects.count() == before


@contextmanager
def short_way_off():
    real = fast.accept
    fast.accept = lambda request: None
    try:
        yield
    finally:
        fast.accept = real


def client_for_same(api):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api.key_text}")
    return client


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/messages", {"HTTP_ACCEPT": "application/xml"}),
        ("/api/v1/messages", {"HTTP_ACCEPT": "text/html"}),
        ("/api/v1/messages?format=xml", {}),
    ],
)
def test_a_request_drf_cannot_answer_sends_nothing(route, path, headers):
    """DRF negotiates the answer before the view runs: an Accept it cannot meet is a 406, a
    ?format it has no renderer for a 404, and nothing is sent. The short way sends it."""
    account, api = route
    body = json.dumps(sms(account))
    before = Message.objects.count()
    with short_way_off():
        whole = api.post(path, body, content_type="application/json", **headers)
    assert whole.status_code in (404, 406)
    response = api.post(path, body, content_type="application/json", **headers)
    assert response.status_code in (404, 406)
    assert Message.objects.count() == before


@pytest.mark.parametrize("junk", ["\x1c", "\xa0", "\x85"])
def test_a_key_the_whole_way_refuses_is_refused(route, junk):
    """str.strip() drops Unicode whitespace after the key; the whole way splits the header's
    bytes on ASCII whitespace only and refuses the key (401)."""
    account, api = route
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api.key_text}{junk}")
    body = sms(account)
    whole = whole_way(api, body)
    assert whole.status_code == 401
    before = Message.objects.count()
    short = post(api, body)
    assert short.status_code == 401
    assert Message.objects.count() == before


def test_deeply_nested_json_without_a_key_is_a_401_not_a_crash(route):
    """The short way parses the body before any key is checked, and json.loads raises
    RecursionError (not a ValueError) on deep nesting: a 500 for anybody."""
    deep = b"[" * 5000 + b"]" * 5000
    anonymous = APIClient()
    response = anonymous.post("/api/v1/messages", deep, content_type="application/json")
    assert response.status_code == 401


def test_a_message_that_falls_through_counts_once_against_the_rate_limit(acme, route):
    """An opted-out number: the short way counts the request, then lets the whole way
    answer, which counts it again; the next request is refused though only one was made."""
    account, _ = route
    api = client_for(acme, name="Limited")
    body = {"account": account.pk, "to": acme.stop_entry.phone, "text": "hi", "sender": SENDER}
    with override_settings(CRIER_API_RATE="2/min"):
        assert post(api, body).status_code == 422
        second = post(api, {**body, "to": "+77012223344"})
    assert second.status_code == 202


def test_a_message_of_a_campaign_stopped_while_it_waited_is_not_left_pending(acme, route):
    """The route's campaign is read open, then the message waits for its group; a stop
    that commits meanwhile cancels the pending messages, and this one, inserted after, stays
    pending in a cancelled campaign: answered 202, never sent, never cancelled."""
    account, api = route
    campaign = Campaign.objects.get(transactional=True)
    real = grouped.write

    def stopped_meanwhile(rows):
        services.stop(Campaign.objects.get(pk=campaign.pk), None)
        return real(rows)

    grouped.write = stopped_meanwhile
    try:
        response = post(api, sms(account, to="+77012223349"))
    finally:
        grouped.write = real
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.CANCELLED
    if response.status_code == 202:
        message = Message.objects.get(pk=response.json()["id"])
        assert message.campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED), (
            f"message {message.status} in a {message.campaign.status} campaign"
        )


def _wait_gone(cursor, pids: list[int], seconds: float = 10) -> None:
    """Wait until the terminated backends have left pg_stat_activity (they are gone then)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        if cursor.fetchone()[0] == 0:
            return
        time.sleep(0.01)
    raise AssertionError(f"backends {pids} still there after {seconds} s")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_connection_the_server_dropped_falls_through_not_a_500(route):
    """settings.py keeps connections for 60 s with health checks ("a server restart costs
    one failed check, never a failed request"); the short way reads through psycopg without
    the check, and catches django.db.DatabaseError, which psycopg's errors are not."""
    account, api = route
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=True,
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        _wait_gone(killer.cursor(), [pid])
    # What request_started does in a server (the test client leaves it out): the kept
    # connection gets its health check on first use.
    connection.close_if_unusable_or_obsolete()
    try:
        response = post(api, sms(account, to="+77012223348"))
    finally:
        connection.close()
    assert response.status_code == 202


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_writer_survives_a_dropped_connection_without_failing_a_request(route, monkeypatch):
    """Since 3f5f9fc the writer's thread never checks its kept connection (nor closes it
    after CONN_MAX_AGE): after a database restart the first group fails, and every request
    waiting in it is answered 500 "cannot tell whether it did"."""
    account, api = route
    assert post(api, sms(account, to="+77012223346")).status_code == 202  # the writer runs
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
        _wait_gone(cursor, pids)
    # The rule under test: the writer checks its kept connection before a group that follows
    # IDLE_SECONDS without one; at 0 every group does, so no waiting it out.
    monkeypatch.setattr(grouped, "IDLE_SECONDS", 0.0)
    response = post(api, sms(account, to="+77012223347"))
    assert response.status_code == 202, response.json()
