"""The webhook fan-out rate: message-status events from the outbox to a receiver.

    .venv/bin/python bench/webhooks.py [--messages 200000] [--unbatched 5000] [--runs 3]

Records ``--messages`` message statuses as ``message.status_changed`` events (a thousand to an
event, as tracking does) for a workspace with one subscribed endpoint, then times
``webhooks.delivery.run`` fanning them out and POSTing every one, signed, to a receiver on
loopback that verifies each signature with standardwebhooks (in a process of its own, so its
work is not Crier's). The same is timed unbatched, one message an event (``--unbatched``
messages), and both are carried over to a 1,000,000-message campaign whose messages pass
through three statuses (queued, sent, delivered). Prints each run and the medians.

PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/crier_bench_webhooks (created
afresh; BENCH_POSTGRES_URL overrides it); the receiver listens on --port (8121).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import fresh_postgres  # noqa: E402 - after the path is set

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_webhooks"
)
CAMPAIGN_MESSAGES = 1_000_000
STATUSES_PASSED = 3  # queued, sent, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--unbatched", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8121)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="crier-bench-webhooks-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        CRIER_VAR_DIR=str(var),
        LOG_LEVEL="WARNING",
        DATABASE_URL=POSTGRES,
        CRIER_WEBHOOK_HOSTS=f"127.0.0.1:{args.port}",
        CELERY_BROKER_URL="memory://",
    )
    fresh_postgres(POSTGRES)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    endpoint = _endpoint(args.port)
    verified = multiprocessing.Value("l", 0)
    receiver = multiprocessing.Process(
        target=_receive, args=(args.port, endpoint.secret, verified), daemon=True
    )
    receiver.start()
    time.sleep(0.5)
    try:
        print(f"PostgreSQL; receiver on 127.0.0.1:{args.port}; load {_load()}")
        batched = [_run(endpoint, args.messages, 1000, verified) for _ in range(args.runs)]
        single = [_run(endpoint, args.unbatched, 1, verified) for _ in range(args.runs)]
    finally:
        receiver.terminate()
    _summary(batched, single)


def _endpoint(port: int):
    from webhooks.models import Endpoint, EventType
    from workspaces.models import Workspace

    workspace = Workspace.objects.create(name="Bench webhooks", default_country="KZ")
    return Endpoint.objects.create(
        workspace=workspace,
        url=f"http://127.0.0.1:{port}/hooks",
        event_types=[EventType.MESSAGE_STATUS],
    )


def _receive(port: int, secret: str, verified) -> None:
    """The receiver: verifies every request as a subscriber would, answers 204."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from standardwebhooks import Webhook

    webhook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            webhook.verify(body, dict(self.headers))
            with verified.get_lock():
                verified.value += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _run(endpoint, messages: int, per_event: int, verified) -> dict:
    """Records ``messages`` statuses ``per_event`` to an event, then delivers them all."""
    from django.db import transaction
    from django.utils import timezone

    from webhooks import delivery, events
    from webhooks.models import Delivery, Event

    Delivery.objects.all().delete()
    Event.objects.all().delete()
    now = timezone.now()
    rows = (
        {
            "id": n,
            "reference": f"{n:032x}",
            "phone": f"+7701{n % 10_000_000:07d}",
            "status": "delivered",
            "error_code": "",
            "changed_at": now,
        }
        for n in range(messages)
    )
    events.MESSAGES_PER_EVENT, default = per_event, events.MESSAGES_PER_EVENT
    started = time.perf_counter()
    try:
        with transaction.atomic():
            recorded = events.record_messages(endpoint.workspace_id, 1, rows)
    finally:
        events.MESSAGES_PER_EVENT = default
    record_seconds = time.perf_counter() - started
    before = verified.value
    started = time.perf_counter()
    while Delivery.objects.exclude(status="delivered").exists() or not Delivery.objects.exists():
        summary = delivery.run(budget=600)
        assert not summary["failed"], summary
    seconds = time.perf_counter() - started
    requests = verified.value - before
    assert requests == recorded, (requests, recorded)
    result = {
        "messages": messages,
        "events": recorded,
        "record_seconds": record_seconds,
        "seconds": seconds,
        "events_per_s": recorded / seconds,
        "messages_per_s": messages / seconds,
    }
    print(
        f"{per_event:>5} a request: {messages:,} messages in {recorded:,} events recorded in "
        f"{record_seconds:.2f} s, delivered in {seconds:.2f} s = {result['events_per_s']:,.0f} "
        f"requests/s, {result['messages_per_s']:,.0f} messages/s; load {_load()}"
    )
    return result


def _summary(batched: list[dict], single: list[dict]) -> None:
    def median(runs, key):
        return statistics.median(r[key] for r in runs)

    statuses = CAMPAIGN_MESSAGES * STATUSES_PASSED
    batched_requests = STATUSES_PASSED * math.ceil(CAMPAIGN_MESSAGES / 1000)
    batched_time = statuses / median(batched, "messages_per_s")
    single_time = statuses / median(single, "messages_per_s")
    print(
        f"median, batched (1,000 messages an event): {median(batched, 'events_per_s'):,.0f} "
        f"requests/s = {median(batched, 'messages_per_s'):,.0f} messages/s; recording "
        f"{median(batched, 'messages') / median(batched, 'record_seconds'):,.0f} messages/s"
    )
    print(
        f"median, unbatched (1 message an event): {median(single, 'events_per_s'):,.0f} "
        f"requests/s = {median(single, 'messages_per_s'):,.0f} messages/s"
    )
    print(
        f"a {CAMPAIGN_MESSAGES:,}-message campaign through {STATUSES_PASSED} statuses "
        f"({statuses:,} status changes): {batched_requests:,} requests in ~{batched_time:,.0f} s "
        f"batched, against {statuses:,} requests in ~{single_time:,.0f} s "
        f"({single_time / 3600:.1f} h) one a message"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
