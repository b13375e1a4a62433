"""Fan-out and sending: each Event becomes one Delivery per subscribed endpoint, and each
Delivery is POSTed, signed per Standard Webhooks, until the endpoint answers 2xx.

At least once: a delivery is due while its ``next_attempt_at`` has passed; a worker takes it
by moving that time one lease ahead (a conditional UPDATE, so two workers never both take
it), and a worker that dies mid-request leaves it due again when the lease ends. A failed
attempt is tried again after ``backoff(attempts)``, for CRIER_WEBHOOK_RETRY_HOURS from the
delivery's creation; an endpoint failing without a success for CRIER_WEBHOOK_DISABLE_AFTER_HOURS
is disabled and the workspace's admins are told (mail and audit log).

Requests go through the SSRF guard of provider URLs (core.hosts): https to public addresses
only, unless the operator listed the host in CRIER_WEBHOOK_HOSTS. Redirects are not followed.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mass_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from audit.log import record
from audit.models import Action
from core import hosts
from core.queue import enqueue
from webhooks.models import Delivery, Endpoint, Event, new_secret
from workspaces.models import Membership, Role

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=90)  # longer than one request may take (CRIER_WEBHOOK_TIMEOUT)
FIRST_RETRY = timedelta(seconds=15)
LONGEST_WAIT = timedelta(hours=6)
FAN_OUT_LIMIT = 500  # events per pass; the rest wait for the next one
CLAIM = 50  # deliveries a worker takes at once
RESPONSE_EXCERPT = 500


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 15 s, 45 s, 2¼ min, ~7 min, ~20 min,
    1 h, 3 h, then every 6 h (docs/webhooks.md lists the schedule)."""
    return min(FIRST_RETRY * 3 ** (attempts - 1), LONGEST_WAIT)


# --- The task's work ---------------------------------------------------------------------------


def run(now: datetime | None = None, budget: float | None = None) -> dict:
    """Fans out every recorded event, then sends what is due until nothing is or ``budget``
    seconds (CRIER_WEBHOOK_TASK_SECONDS) have gone. ``now``: the time deliveries are due by."""
    deadline = time.monotonic() + (budget or settings.CRIER_WEBHOOK_TASK_SECONDS)
    summary = {"events": 0, "delivered": 0, "failed": 0}
    http = client()
    while time.monotonic() < deadline:
        fanned = fan_out()
        sent = send_due(http, now or timezone.now(), deadline)
        summary["events"] += fanned
        summary["delivered"] += sent["delivered"]
        summary["failed"] += sent["failed"]
        if not fanned and not sent["taken"]:
            break
    return summary


def fan_out(limit: int = FAN_OUT_LIMIT) -> int:
    """One Delivery per endpoint subscribed to each event not yet fanned out (a test event:
    to its endpoint alone), ``limit`` events in one transaction. Returns how many."""
    with transaction.atomic():
        # Two workers never fan out one event: PostgreSQL skips the rows another holds, and
        # SQLite's transactions take the write lock as they begin (transaction_mode).
        events = _locked(Event.objects.filter(fanned_out=False).order_by("pk"))
        events = list(events.only("pk", "workspace_id", "type", "endpoint_id")[:limit])
        if not events:
            return 0
        Event.objects.filter(pk__in=[e.pk for e in events]).update(fanned_out=True)
        live = Endpoint.objects.filter(enabled=True)
        live = live.filter(workspace_id__in={e.workspace_id for e in events})
        listeners = list(live.only("pk", "workspace_id", "event_types"))
        now = timezone.now()
        Delivery.objects.bulk_create(
            Delivery(endpoint_id=endpoint.pk, event_id=event.pk, next_attempt_at=now)
            for event in events
            for endpoint in _targets(event, listeners)
        )
    return len(events)


def _targets(event: Event, listeners: list[Endpoint]) -> list[Endpoint]:
    if event.endpoint_id:  # a test event
        return [e for e in listeners if e.pk == event.endpoint_id]
    return [
        e for e in listeners if e.workspace_id == event.workspace_id and event.type in e.event_types
    ]


def _locked(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


def send_due(http: httpx.Client, now: datetime, deadline: float) -> dict:
    """Attempts the due deliveries of enabled endpoints, oldest first, CLAIM at a time. When
    an attempt fails, the endpoint's other due deliveries wait for that one's next attempt: a
    dead receiver gets one request per retry, not one per event waiting for it."""
    summary = {"taken": 0, "delivered": 0, "failed": 0}
    due = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
    )
    with transaction.atomic():
        ids = list(_locked(due.order_by("next_attempt_at", "pk")).values_list("pk")[:CLAIM])
        ids = [pk for (pk,) in ids]
        # Held for as long as sending them all may take; a worker that dies lets them go then.
        lease = now + LEASE + len(ids) * timedelta(seconds=settings.CRIER_WEBHOOK_TIMEOUT)
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=lease)
    waiting: dict[int, datetime] = {}  # a failing endpoint -> when it is tried again
    put_back: dict[datetime, list[int]] = {}
    claimed = Delivery.objects.filter(pk__in=ids).select_related("event", "endpoint__workspace")
    for delivery in claimed.order_by("pk"):
        summary["taken"] += 1
        if delivery.endpoint_id in waiting or time.monotonic() >= deadline:
            # Behind a failed one, or out of time: due again when the failed one is.
            put_back.setdefault(waiting.get(delivery.endpoint_id, now), []).append(delivery.pk)
            continue
        if attempt(delivery, http, now):
            summary["delivered"] += 1
            continue
        summary["failed"] += 1
        delivery.refresh_from_db(fields=["next_attempt_at"])
        if delivery.next_attempt_at is not None:
            waiting[delivery.endpoint_id] = delivery.next_attempt_at
            due.filter(endpoint_id=delivery.endpoint_id).update(
                next_attempt_at=delivery.next_attempt_at
            )
    for when, pks in put_back.items():
        Delivery.objects.filter(pk__in=pks).update(next_attempt_at=when)
    return summary


# --- One attempt -------------------------------------------------------------------------------


def body(event: Event) -> bytes:
    """What the endpoint receives: the event's type, when it happened and its data."""
    payload = {"type": event.type, "timestamp": event.created_at, "data": event.data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def headers(endpoint: Endpoint, event: Event, content: bytes, now: datetime) -> dict:
    """The Standard Webhooks headers: the message id, the time of sending and the signature
    (two, space-separated, while a rotated secret is still honoured)."""
    sent_at = datetime.now(UTC)  # the receiver compares it with its own clock
    secrets = [endpoint.secret]
    if endpoint.previous_secret and (endpoint.previous_secret_until or now) > now:
        secrets.append(endpoint.previous_secret)
    signatures = [Webhook(s).sign(event.webhook_id, sent_at, content) for s in secrets]
    return {
        "content-type": "application/json",
        "user-agent": "Crier-Webhooks/1",
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def attempt(delivery: Delivery, http: httpx.Client, now: datetime) -> bool:
    """POSTs the delivery's event once and records the outcome; True when answered 2xx."""
    endpoint, event = delivery.endpoint, delivery.event
    content = body(event)
    started = time.monotonic()
    code, excerpt, error = None, "", ""
    try:
        code, excerpt = _post(http, endpoint.url, content, headers(endpoint, event, content, now))
    except httpx.HTTPError as exc:
        # The admin reads this in the log: what kind of failure, never what the guard or the
        # resolver saw (that would map the server's own network); the operator's log has it.
        logger.info("Webhook delivery %s to %s failed: %r", delivery.pk, endpoint.url, exc)
        error = _failure(exc)
    latency = round((time.monotonic() - started) * 1000)
    ok = code is not None and 200 <= code < 300
    if code is not None and not ok:
        error = f"The endpoint answered {code}."
    changes = {
        "attempts": F("attempts") + 1,
        "status_code": code,
        "latency_ms": latency,
        "response": excerpt,
        "error": error,
        "attempted_at": now,
    }
    if ok:
        changes |= {"status": Delivery.Status.DELIVERED, "next_attempt_at": None}
    else:
        changes |= _retry(delivery, now)
    if ok:
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
        if endpoint.failing_since is not None:  # as read when the delivery was taken
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return True
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
        _failed(endpoint, now)
    return False


def _post(http: httpx.Client, url: str, content: bytes, headers: dict) -> tuple[int, str]:
    """The answer's status and the start of its body, read no further than that."""
    with http.stream("POST", url, content=content, headers=headers) as response:
        start = b""
        for chunk in response.iter_bytes():
            start += chunk
            if len(start) >= RESPONSE_EXCERPT:
                break
        return response.status_code, start[:RESPONSE_EXCERPT].decode(errors="replace")


def _failure(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"No answer within {settings.CRIER_WEBHOOK_TIMEOUT:g} s."
    if isinstance(error, httpx.ConnectError):
        return (
            "Could not connect: the server refused or could not be reached, or the address is "
            "not a public https one."
        )
    return f"The request failed ({type(error).__name__})."


def _retry(delivery: Delivery, now: datetime) -> dict:
    """When to try again, or give up: never later than CRIER_WEBHOOK_RETRY_HOURS after the
    delivery was created (the last try falls on that hour)."""
    give_up_at = delivery.created_at + timedelta(hours=settings.CRIER_WEBHOOK_RETRY_HOURS)
    if now >= give_up_at:
        return {"status": Delivery.Status.FAILED, "next_attempt_at": None}
    return {"next_attempt_at": min(now + backoff(delivery.attempts + 1), give_up_at)}


def _failed(endpoint: Endpoint, now: datetime) -> None:
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    since = Endpoint.objects.values_list("failing_since", flat=True).get(pk=endpoint.pk)
    if now - since >= timedelta(hours=settings.CRIER_WEBHOOK_DISABLE_AFTER_HOURS):
        disable(endpoint, since)


def disable(endpoint: Endpoint, since: datetime) -> bool:
    """Disables an endpoint that has failed since ``since``; its workspace's owners and admins
    get an e-mail and the audit log an event. Its pending deliveries wait: they go out if it
    is enabled again within their retry window. False when it was disabled already."""
    reason = f"Disabled by Crier: every attempt failed since {since:%Y-%m-%d %H:%M} UTC."
    moved = Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason, updated_at=timezone.now()
    )
    if not moved:
        return False
    record(
        endpoint.workspace,
        None,
        Action.WEBHOOK_DISABLED,
        f"webhook {endpoint.url}",
        endpoint_id=endpoint.pk,
        failing_since=since,
    )
    transaction.on_commit(lambda: _tell_admins(endpoint, reason))
    return True


def _tell_admins(endpoint: Endpoint, reason: str) -> None:
    admins = Membership.objects.filter(
        workspace_id=endpoint.workspace_id, role__in=[Role.OWNER, Role.ADMIN]
    ).exclude(user__email="")
    subject = f"Crier: a webhook of {endpoint.workspace.name} was disabled"
    text = (
        f"The webhook endpoint {endpoint.url} of the workspace {endpoint.workspace.name} did "
        f"not accept any event for {settings.CRIER_WEBHOOK_DISABLE_AFTER_HOURS:g} hours.\n\n"
        f"{reason}\n\nFix the receiver, then enable the endpoint again on the Webhooks page; "
        "events still inside their retry window will be sent then, and any other can be "
        "replayed from its delivery log."
    )
    emails = sorted({m.user.email for m in admins.select_related("user")})
    send_mass_mail([(subject, text, None, [email]) for email in emails], fail_silently=True)


def prune(now: datetime | None = None) -> int:
    """Deletes events (and their delivery log) older than CRIER_WEBHOOK_KEEP_DAYS that no
    delivery is still trying to send; returns how many. The outbox holds recipients' numbers,
    and a million-message campaign writes thousands of events: neither is kept for ever."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.CRIER_WEBHOOK_KEEP_DAYS)
    old = Event.objects.filter(created_at__lt=cutoff, fanned_out=True)
    old = old.exclude(deliveries__status=Delivery.Status.PENDING)
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:1000]):
        Event.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted


# --- Admin actions -----------------------------------------------------------------------------


def replay(delivery: Delivery, user) -> Delivery:
    """The same event to the same endpoint once more, as a new delivery due now (with the
    same webhook-id: the receiver can tell it has seen it)."""
    with transaction.atomic():
        again = Delivery.objects.create(
            endpoint=delivery.endpoint, event=delivery.event, next_attempt_at=timezone.now()
        )
        record(
            delivery.endpoint.workspace,
            user,
            Action.WEBHOOK_REPLAYED,
            f"webhook {delivery.endpoint.url}",
            endpoint_id=delivery.endpoint_id,
            delivery_id=delivery.pk,
            event=delivery.event.webhook_id,
        )
        enqueue("webhooks.tasks.deliver")
    return again


def rotate_secret(endpoint: Endpoint, user) -> None:
    """A new secret; the old one still signs (a second signature) for a day, so a receiver
    can switch without losing an event."""
    with transaction.atomic():
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = timezone.now() + timedelta(hours=24)
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        record(
            endpoint.workspace,
            user,
            Action.WEBHOOK_SECRET_ROTATED,
            f"webhook {endpoint.url}",
            endpoint_id=endpoint.pk,
        )


# --- Where endpoints may be ---------------------------------------------------------------------


def listed(url: httpx.URL) -> bool:
    """The operator trusts this host (CRIER_WEBHOOK_HOSTS): http and any address allowed."""
    return hosts.matches(url, settings.CRIER_WEBHOOK_HOSTS)


def check_url(url: str) -> None:
    """Raise ValidationError, in words the endpoint form shows, unless Crier may post there."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ValidationError("Enter a web address such as https://example.com/hooks.") from None
    if parsed.userinfo:
        raise ValidationError("Give the address without a user name or password.")
    if listed(parsed):
        return
    if parsed.scheme != "https" or not parsed.host:
        raise ValidationError("Use an https:// address: events carry your recipients' numbers.")
    if hosts.looks_inward(parsed):
        raise ValidationError(
            "That is a local or private network address; Crier posts no events there. If the "
            "receiver really is on your network, ask whoever runs Crier to list its host in "
            "CRIER_WEBHOOK_HOSTS."
        )


class _Transport(hosts.GuardedTransport):
    def trusted(self, url: httpx.URL) -> bool:
        return listed(url)


def client() -> httpx.Client:
    """The client of every webhook request: the guard as its transport, no redirects followed,
    no proxy from the environment between the guard and the endpoint. One per process (and
    timeout), so its connections are kept alive between tasks: building one costs ~0.3 s."""
    return _client(settings.CRIER_WEBHOOK_TIMEOUT)


@functools.cache
def _client(timeout: float) -> httpx.Client:
    return httpx.Client(
        transport=_Transport(), follow_redirects=False, trust_env=False, timeout=timeout
    )
