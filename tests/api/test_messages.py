"""Single transactional messages: accepted at once, sent once through the engine (the
sandbox's ledger says so), their status readable; and Idempotency-Key on every POST."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.models import IdempotentRequest
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus, MessageStatus
from providers.models import SenderName
from providers.sandbox.models import Charge
from tests.api.conftest import client_for
from tests.sendkit import SENDER, ledger, sandbox_account, tick

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]


def send_due(seconds: float = 20) -> None:
    """Beat ticks and worker runs until no message is waiting to be handed over."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tick(budget=5)
        waiting = Message.objects.filter(
            status__in=[MessageStatus.PENDING, MessageStatus.SUBMITTING]
        )
        if not waiting.exists():
            return
        Campaign.objects.update(lease_until=None)
        time.sleep(0.05)
    raise AssertionError("messages still waiting")


def wired(acme, live_server):
    account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    account.senders.create(value=SENDER, status=SenderName.Status.APPROVED)
    return account, remote


def one(api, account, **more):
    body = {
        "account": more.pop("account_id", account.pk),
        "to": "+7 701 222 33 44",
        "sender": SENDER,
        **more,
    }
    body.setdefault("text", "Your code is {code}")
    body.setdefault("fields", {"code": "4711"})
    return api.post("/api/v1/messages", body, format="json")


def test_a_single_message_is_accepted_at_once_and_sent_once(acme, live_server):
    account, remote = wired(acme, live_server)
    api = client_for(acme)
    response = one(api, account)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["phone"]) == ("pending", "+77012223344")
    second = one(api, account, to="+77012223345", fields={"code": "9"})
    assert second.json()["campaign"] == body["campaign"]  # one open campaign per route
    send_due()
    assert ledger(remote) == {"charges": 2, "phones_charged_twice": 0}
    charged = Charge.objects.get(phone__endswith="2223344").message
    assert charged.text == "Your code is 4711"
    status = api.get(f"/api/v1/messages/{body['id']}").json()
    assert status["status"] not in ("pending", "submitting")
    campaign = Campaign.objects.get(pk=body["campaign"])
    assert campaign.transactional and campaign.status == CampaignStatus.SENDING
    # Still open: a later message goes the same way, once.
    one(api, account, to="+77012223346")
    send_due()
    assert ledger(remote) == {"charges": 3, "phones_charged_twice": 0}


def test_what_would_never_be_sent_is_refused_naming_the_field(acme, live_server):
    account, _ = wired(acme, live_server)
    api = client_for(acme)
    response = one(api, account, account_id=999_999)
    assert response.json()["errors"][0]["field"] == "account"
    response = one(api, account, to="12")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "to"
    response = one(api, account, fields={})
    assert response.json()["errors"][0]["field"] == "fields"
    assert "{code}" in response.json()["errors"][0]["message"]
    response = one(api, account, sender="Nobody")
    assert response.json()["errors"][0]["field"] == "sender"
    response = one(api, account, to=acme.stop_entry.phone)
    assert response.status_code == 422
    assert response.json()["type"] == "/api/v1/problems/opted-out"
    assert not Message.objects.filter(campaign__transactional=True).exists()
    reader = client_for(acme, ["read"], name="Reader")
    assert one(reader, account).status_code == 403


@pytest.mark.parametrize("slug", ["conpeek", "bsg"])
def test_a_voice_message_reaches_the_voice_api_once_reading_its_own_text(acme, live_server, slug):
    account, remote = sandbox_account(acme.workspace, slug, live_server.url)
    api = client_for(acme)
    headers = {"Idempotency-Key": f"call-{slug}"}
    body = {"account": account.pk, "to": "+77012223344", "channel": "voice"}
    body |= {"text": "Your code is {code}", "fields": {"code": "4711"}}
    first = api.post("/api/v1/messages", body, format="json", headers=headers)
    assert first.status_code == 202, first.json()
    again = api.post("/api/v1/messages", body, format="json", headers=headers)
    assert again.json() == first.json()
    other = {**body, "to": "+77012223345", "fields": {"code": "9"}}
    assert api.post("/api/v1/messages", other, format="json").status_code == 202
    send_due()
    assert ledger(remote) == {"charges": 2, "phones_charged_twice": 0}
    said = Charge.objects.select_related("message__campaign")
    texts = {
        c.phone[-4:]: (c.message.text or c.message.campaign.text, c.message.campaign.channel)
        for c in said
    }
    assert texts == {"3344": ("Your code is 4711", "voice"), "3345": ("Your code is 9", "voice")}
    status = api.get(f"/api/v1/messages/{first.json()['id']}").json()
    assert status["status"] not in ("pending", "submitting")
    assert Campaign.objects.get(pk=first.json()["campaign"]).channel == "voice"


def test_a_voice_message_through_an_account_that_cannot_call_is_refused(acme, live_server):
    account, _ = sandbox_account(acme.workspace, "mobizon", live_server.url)
    api = client_for(acme)
    body = {"account": account.pk, "to": "+77012223344", "channel": "voice", "text": "Hi"}
    response = api.post("/api/v1/messages", body, format="json")
    # As every refusal of this endpoint (a sender, a number): validation-error, naming the field.
    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "/api/v1/problems/validation-error"
    assert response.json()["errors"][0]["field"] == "channel"
    assert "voice" in response.json()["errors"][0]["message"]
    assert not Campaign.objects.filter(transactional=True).exists()
    assert not Message.objects.filter(campaign__transactional=True).exists()


def test_the_same_idempotency_key_returns_the_first_answer(acme, live_server):
    account, _ = wired(acme, live_server)
    api = client_for(acme)
    headers = {"Idempotency-Key": "order-77"}
    body = {"account": account.pk, "to": "+77012223344", "sender": SENDER, "text": "Hi"}
    first = api.post("/api/v1/messages", body, format="json", headers=headers)
    again = api.post("/api/v1/messages", body, format="json", headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    changed = api.post(
        "/api/v1/messages", {**body, "text": "Other"}, format="json", headers=headers
    )
    assert changed.status_code == 422
    assert changed.json()["type"] == "/api/v1/problems/idempotency-key-reused"
    # Another key of the workspace has its own keys.
    other = client_for(acme, name="Other")
    assert other.post("/api/v1/messages", body, format="json", headers=headers).status_code == 202
    assert IdempotentRequest.objects.count() == 2


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="concurrent writers: PostgreSQL")
def test_fifty_identical_launches_at_once_launch_once(acme, monkeypatch):
    from campaigns.compose import pricing
    from providers.base import AccountInfo

    monkeypatch.setattr(
        pricing, "current_funds", lambda c: AccountInfo(currency="USD", balance=Decimal(10**6))
    )
    campaign = acme.campaign
    campaign.text, campaign.sender = "Hello", acme.sender.value
    campaign.save()
    Message.objects.create(campaign=campaign, phone="+77010000001", country="KZ")
    api = client_for(acme)
    key = api.key_text
    barrier = threading.Barrier(50)
    statuses: list[int] = []

    def launch():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        barrier.wait()
        response = client.post(
            f"/api/v1/campaigns/{campaign.pk}/launch",
            {},
            format="json",
            headers={"Idempotency-Key": "launch-1"},
        )
        statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=launch) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 50
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="campaign_launched").count() == 1
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SCHEDULED


def test_the_document_offers_the_voice_channel(acme):
    document = client_for(acme).get("/api/schema/", {"format": "json"}).json()
    single = document["components"]["schemas"]["SingleMessageRequest"]["properties"]
    channel = single["channel"]
    choices = channel.get("enum") or document["components"]["schemas"][
        channel["allOf"][0]["$ref"].rsplit("/", 1)[1]
    ].get("enum")
    assert set(choices) == {"sms", "voice"}
    assert "voice" in channel["description"]


def test_a_call_speaks_in_the_voice_and_language_asked_for(acme, live_server):
    from providers.sandbox.models import SandboxCampaign

    account, remote = sandbox_account(acme.workspace, "bsg", live_server.url)
    api = client_for(acme)
    body = {"account": account.pk, "to": "+77012223344", "channel": "voice", "text": "Hello"}
    default = api.post("/api/v1/messages", body, format="json")
    chosen = {**body, "to": "+77012223345", "voice": "ostap", "language": "uk"}
    asked = api.post("/api/v1/messages", chosen, format="json")
    assert default.status_code == asked.status_code == 202, asked.json()
    # Each voice and language goes through an open campaign of its own.
    assert asked.json()["campaign"] != default.json()["campaign"]
    again = api.post("/api/v1/messages", {**chosen, "to": "+77012223346"}, format="json")
    assert again.json()["campaign"] == asked.json()["campaign"]
    send_due()
    assert ledger(remote) == {"charges": 3, "phones_charged_twice": 0}
    spoken = [str(c.params) for c in SandboxCampaign.objects.filter(channel="voice")]
    assert sum("ostap" in p for p in spoken) == 2 and sum("sonya" in p for p in spoken) == 1


def test_a_voice_or_language_the_provider_does_not_know_is_refused(acme, live_server):
    bsg, _ = sandbox_account(acme.workspace, "bsg", live_server.url)
    conpeek, _ = sandbox_account(acme.workspace, "conpeek", live_server.url)
    api = client_for(acme)
    call = {"to": "+77012223344", "channel": "voice", "text": "Hello"}
    for given, field in [
        ({"account": bsg.pk, "voice": "hal9000"}, "voice"),
        ({"account": bsg.pk, "language": "tlh"}, "language"),
        ({"account": conpeek.pk, "voice": "ostap"}, "voice"),  # Conpeek has no choice of voice
        ({"account": bsg.pk, "channel": "sms", "voice": "ostap"}, "voice"),  # an SMS has none
    ]:
        response = api.post("/api/v1/messages", {**call, **given}, format="json")
        assert response.status_code == 400, (given, response.json())
        assert [e["field"] for e in response.json()["errors"]] == [field], response.json()
    assert (
        "sonya"
        in api.post(
            "/api/v1/messages", {**call, "account": bsg.pk, "voice": "x"}, format="json"
        ).json()["errors"][0]["message"]
    )
    assert not Message.objects.filter(campaign__transactional=True).exists()
