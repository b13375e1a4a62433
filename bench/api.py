"""Single messages through the public API: the enqueue latency of POST /api/v1/messages
(p50 / p95) and how many one web process accepts a second, side by side with the floor of
the same stack (GET /api/v1/accounts/<id>: the key checked, one row read) and with an
Idempotency-Key on every request, in one run on PostgreSQL.

    .venv/bin/python bench/api.py [--requests 2000] [--blocks 3]

Each block sends ``--requests`` requests one after another through the whole Django stack
(middleware, key, scope, rate limit, validation, the message's row and its counters, the
worker's wake-up) with Django's test client in this one process: what a web process spends
on each. The Celery broker is kombu's memory transport, so the wake-up's publish costs
what it costs without a network hop. Targets (#18): p95 <= 20 ms, >= 500 messages/s.
Webhook fan-out: bench/webhooks.py.

PostgreSQL: postgres://postgres@127.0.0.1:5432/crier_bench_api (created afresh;
BENCH_POSTGRES_URL overrides it). DEBUG is off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import fresh_postgres  # noqa: E402 - after the path is set

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_api"
)


def seed():
    from django.contrib.auth import get_user_model

    from api import keys
    from providers.models import ProviderAccount, SenderName
    from workspaces.models import Membership, Role, Workspace

    workspace = Workspace.objects.create(name="Bench", default_country="KZ")
    user = get_user_model().objects.create_user("bench", password="x")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    account = ProviderAccount(workspace=workspace, provider="bsg", name="BSG")
    account.credentials = {"api_key": "live_bench_key_0000"}
    account.save()
    SenderName.objects.create(account=account, value="Crier", status="approved")
    _, text = keys.issue(workspace, user, "Bench", ["read", "send"])
    return account, text


def block(client, account, n: int, kind: str, offset: int) -> list[float]:
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        if kind == "floor":
            response = client.get(f"/api/v1/accounts/{account.pk}")
            expected = 200
        else:
            headers = {"Idempotency-Key": str(uuid.uuid4())} if kind == "idempotent" else {}
            response = client.post(
                "/api/v1/messages",
                {
                    "account": account.pk,
                    "to": f"+7701{offset + i:07d}",
                    "sender": "Crier",
                    "text": "Your code is {code}",
                    "fields": {"code": str(1000 + i % 9000)},
                },
                content_type="application/json",
                headers=headers,
            )
            expected = 202
        latencies.append(time.perf_counter() - started)
        if response.status_code != expected:
            raise SystemExit(f"{kind}: {response.status_code} {response.content[:300]!r}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        CRIER_VAR_DIR=tempfile.mkdtemp(prefix="crier-bench-api-"),
        LOG_LEVEL="WARNING",
        DEBUG="false",
        DATABASE_URL=POSTGRES,
        CELERY_BROKER_URL="memory://",
        ALLOWED_HOSTS="testserver",
        CRIER_API_RATE="1000000/s",
    )
    fresh_postgres(POSTGRES)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from campaigns.models import Message

    call_command("migrate", verbosity=0)
    account, key = seed()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    block(client, account, 200, "send", 9_000_000)  # warm-up: caches, the open campaign
    results: dict[str, list[list[float]]] = {"floor": [], "send": [], "idempotent": []}
    offset = 0
    for _ in range(args.blocks):
        for kind in results:
            results[kind].append(block(client, account, args.requests, kind, offset))
            offset += args.requests
    print(f"load average {os.getloadavg()[0]:.1f}; {args.blocks} blocks of {args.requests}")
    summary = {}
    for kind, blocks in results.items():
        p50 = statistics.median(statistics.median(b) for b in blocks) * 1000
        p95 = statistics.median(statistics.quantiles(b, n=20)[18] for b in blocks) * 1000
        rates = [len(b) / sum(b) for b in blocks]
        summary[kind] = (p50, p95, statistics.median(rates))
        label = {
            "floor": "GET /accounts/<id> (the floor)",
            "send": "POST /messages",
            "idempotent": "POST /messages + Idempotency-Key",
        }[kind]
        print(
            f"{label:36} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
            f"{statistics.median(rates):7.0f}/s (blocks {min(rates):.0f}-{max(rates):.0f}/s)"
        )
    send, floor = summary["send"], summary["floor"]
    print(
        f"POST /messages: p95 {send[1]:.1f} ms (target <= 20), {send[2]:.0f}/s in one process "
        f"(target >= 500); {send[1] / floor[1]:.1f}x the floor's p95"
    )
    print(f"messages stored: {Message.objects.count():,}")


if __name__ == "__main__":
    main()
