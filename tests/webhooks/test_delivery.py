"""Sending: signed per Standard Webhooks, retried with backoff until the receiver takes it,
given up after CRIER_WEBHOOK_RETRY_HOURS, replayed by hand, and an endpoint that keeps failing
disabled with its admins told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from audit.models import Action, AuditEvent
from webhooks import delivery, events
from webhooks.models import Delivery, Endpoint, Event, EventType

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_sample_webhook")]


def paused(acme, n: int = 1) -> Event:
    return events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {"campaign": {"id": n}})


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_the_receiver_verifies_the_signature_with_standardwebhooks(acme, endpoint, receiver):
    event = paused(acme)

    assert delivery.run() == {"events": 1, "delivered": 1, "failed": 0}

    [request] = receiver.requests
    assert request["verified"]
    assert request["headers"]["webhook-id"] == event.webhook_id == f"evt_{event.pk}"
    [payload] = receiver.payloads
    assert payload["type"] == "campaign.paused"
    assert payload["data"] == {"campaign": {"id": 1}}
    sent = Delivery.objects.get()
    assert (sent.status, sent.attempts, sent.status_code) == ("delivered", 1, 200)
    assert sent.latency_ms is not None


def test_a_request_signed_with_another_secret_fails_verification(acme, endpoint, receiver):
    receiver.secret = Endpoint(workspace=acme.workspace).secret  # a fresh, different one
    paused(acme)

    delivery.run()

    assert [r["verified"] for r in receiver.requests] == [False]
    assert Delivery.objects.get().status_code == 400


def test_a_tampered_body_fails_verification(acme, endpoint):
    event = paused(acme)
    content = delivery.body(event)
    headers = delivery.headers(endpoint, event, content, timezone.now())
    Webhook(endpoint.secret).verify(content, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(content.replace(b'"id":1', b'"id":2'), headers)


def test_after_a_rotation_both_secrets_verify_for_a_day(acme, endpoint):
    old = endpoint.secret
    delivery.rotate_secret(endpoint, acme.user("admin"))
    endpoint.refresh_from_db()
    event = paused(acme)
    content = delivery.body(event)

    headers = delivery.headers(endpoint, event, content, timezone.now())
    assert len(headers["webhook-signature"].split()) == 2
    Webhook(old).verify(content, headers)
    Webhook(endpoint.secret).verify(content, headers)

    tomorrow = delivery.headers(endpoint, event, content, later(25 * 3600))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(content, tomorrow)
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_SECRET_ROTATED).exists()


def test_a_500_is_retried_after_the_backoff_and_delivered_once_the_receiver_recovers(
    acme, endpoint, receiver
):
    receiver.answer = 500
    paused(acme)
    assert delivery.run()["failed"] == 1
    waiting = Delivery.objects.get()
    assert (waiting.status, waiting.attempts, waiting.status_code) == ("pending", 1, 500)
    assert waiting.next_attempt_at > timezone.now() + timedelta(seconds=10)

    receiver.answer = 200
    assert delivery.run()["delivered"] == 0  # not due yet
    assert delivery.run(now=later(16))["delivered"] == 1

    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == ("delivered", 2)
    assert len(receiver.payloads) == 1
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_receiver_that_is_down_gets_the_events_when_it_comes_back(acme, endpoint, receiver):
    receiver.stop()
    for n in range(5):
        paused(acme, n)

    summary = delivery.run()

    # One request found it down; the other four wait behind that one rather than each
    # knocking on a dead server.
    assert summary == {"events": 5, "delivered": 0, "failed": 1}
    assert Delivery.objects.filter(attempts=0, status="pending").count() == 4
    failed = Delivery.objects.get(attempts=1)
    assert failed.error.startswith("Could not connect") and failed.status_code is None

    receiver.start()
    assert delivery.run(now=later(16))["delivered"] == 5
    assert sorted(p["data"]["campaign"]["id"] for p in receiver.payloads) == [0, 1, 2, 3, 4]


def test_the_backoff_grows_and_a_delivery_is_given_up_after_the_retry_window(
    acme, endpoint, receiver, settings
):
    assert [delivery.backoff(n).total_seconds() for n in range(1, 9)] == [
        15, 45, 135, 405, 1215, 3645, 10935, 21600
    ]  # fmt: skip
    receiver.answer = 503
    paused(acme)
    delivery.run()
    created = Delivery.objects.get()
    start = created.created_at
    attempts = 1
    while created.status == "pending":
        delivery.run(now=created.next_attempt_at)
        created.refresh_from_db()
        attempts += 1
        assert created.attempts == attempts
    assert created.status == "failed"
    assert created.attempted_at == start + timedelta(hours=settings.CRIER_WEBHOOK_RETRY_HOURS)
    assert 10 <= attempts <= 14


def test_replay_sends_the_same_event_again_with_the_same_id(acme, endpoint, receiver):
    event = paused(acme)
    delivery.run()
    first = Delivery.objects.get()

    delivery.replay(first, acme.user("admin"))
    delivery.run()

    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [event.webhook_id] * 2
    assert Delivery.objects.filter(status="delivered").count() == 2
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_REPLAYED).count() == 1


def test_an_endpoint_failing_for_the_configured_time_is_disabled_and_its_admins_told(
    acme, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.CRIER_WEBHOOK_DISABLE_AFTER_HOURS = 2
    receiver.answer = 500
    paused(acme)
    delivery.run()
    endpoint.refresh_from_db()
    since = endpoint.failing_since
    assert since is not None and endpoint.enabled

    delivery.run(now=since + timedelta(hours=1))  # failing for an hour: still enabled
    endpoint.refresh_from_db()
    assert endpoint.enabled
    paused(acme, 2)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.run(now=since + timedelta(hours=2, minutes=1))
    endpoint.refresh_from_db()

    assert not endpoint.enabled
    assert "every attempt failed since" in endpoint.disabled_reason
    told = sorted(address for message in mail.outbox for address in message.to)
    assert told == ["adam@example.com", "olivia@example.com"]  # the admin and the owner
    assert endpoint.url in mail.outbox[0].body
    assert AuditEvent.objects.filter(
        workspace=acme.workspace, action=Action.WEBHOOK_DISABLED
    ).exists()
    # Disabled: nothing more is sent, and nothing more recorded for it.
    before = len(receiver.requests)
    delivery.run(now=since + timedelta(hours=3))
    assert len(receiver.requests) == before
    assert paused(acme, 3) is None


def test_a_success_resets_the_failing_clock(acme, endpoint, receiver, settings):
    receiver.answer = 500
    paused(acme)
    delivery.run()
    receiver.answer = 200
    delivery.run(now=later(16))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_old_events_are_pruned_with_their_log_unless_still_being_sent(acme, endpoint, receiver):
    delivered = paused(acme, 1)
    delivery.run()
    receiver.answer = 500
    pending = paused(acme, 2)
    delivery.run()

    assert delivery.prune(now=later(29 * 86400)) == 0
    assert delivery.prune(now=later(31 * 86400)) == 1

    assert not Event.objects.filter(pk=delivered.pk).exists()
    assert Event.objects.filter(pk=pending.pk).exists()
    assert Delivery.objects.filter(event=pending).exists()
