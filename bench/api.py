"""Single messages through the public API: the enqueue latency of POST /api/v1/messages
(p50 / p95) and how many one web process accepts a second, in one run on PostgreSQL.

    .venv/bin/python bench/api.py [--requests 2000] [--blocks 3] [--clients 1,8,32]

Two parts.

One request at a time, in this process (Django's test client), ``--requests`` a block: what a
web process spends on each request, in wall time and CPU (with the message writer's thread).
Side by side: the floor of the whole stack (GET /api/v1/accounts/<id>: the key checked, one
row read), POST /messages by the short way (api/fast.py), and POST /messages with an
Idempotency-Key, which goes the whole way (DRF, serializers, the ORM).

Served: one web process on a local port, granian (the production server: HTTP in Rust) and,
side by side, gunicorn's threaded worker, each with ``--threads`` threads; ``--clients``
connections at once from this process (http.client, keep-alive), ``--requests`` a block:
accepted messages a second, the latency each client saw (p50 / p95), and the web process's CPU
per message (from /proc). Concurrent messages share a commit there (campaigns/grouped.py);
one at a time, each waits for its own flush to disk.

The Celery broker is kombu's memory transport, so a wake-up's publish costs what it costs
without a network hop. Targets (#18): p95 <= 20 ms, >= 500 messages/s per web process.
Webhook fan-out: bench/webhooks.py.

PostgreSQL: postgres://postgres@127.0.0.1:5432/crier_bench_api (created afresh;
BENCH_POSTGRES_URL overrides it). DEBUG is off.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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


def _cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` and its children now running (user + system, all
    their threads): gunicorn's arbiter and its worker."""
    pids = [pid] + [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    total = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS = {
    "gunicorn": lambda port, threads: [
        "gunicorn",
        "crier.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--workers=1",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--log-level=warning",
    ],
    "granian": lambda port, threads: [
        "granian",
        "--interface=wsgi",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        f"--blocking-threads={threads}",
        "--log-level=warning",
        "crier.wsgi:application",
    ],
}


def serve(server: str, port: int, threads: int) -> subprocess.Popen:
    command = SERVERS[server](port, threads)
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / command[0]), *command[1:]],
        cwd=ROOT,
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1"},
        start_new_session=True,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("gunicorn did not start")
    return server


def served(port: int, key: str, account, clients: int, n: int, offset: int):
    """``n`` POSTs from ``clients`` connections at once: (latencies, wall seconds). Each
    client writes requests built beforehand on a plain keep-alive socket and reads just the
    status and the body's length: on two cores the load's own CPU is taken from the server."""
    latencies: list[float] = []
    failures: list[str] = []
    each = n // clients

    def request(number: int) -> bytes:
        body = json.dumps(
            {
                "account": account.pk,
                "to": f"+7701{number:07d}",
                "sender": "Crier",
                "text": "Your code is {code}",
                "fields": {"code": str(1000 + number % 9000)},
            }
        ).encode()
        head = (
            f"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def client(requests: list[bytes]) -> None:
        mine = []
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            reader = sock.makefile("rb")
            for raw in requests:
                started = time.perf_counter()
                sock.sendall(raw)
                status = reader.readline()
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                answer = reader.read(length)
                mine.append(time.perf_counter() - started)
                if b" 202 " not in status:
                    failures.append(f"{status!r} {answer[:300]!r}")
                    break
        latencies.extend(mine)

    built = [[request(offset + c * each + i) for i in range(each)] for c in range(clients)]
    threads = [threading.Thread(target=client, args=(built[c],)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"served POST failed: {failures[0]}")
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--clients", default="1,16,48")
    parser.add_argument("--threads", type=int, default=32, help="the server's threads")
    parser.add_argument("--servers", default="granian,gunicorn")
    parser.add_argument("--served-only", action="store_true")
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
    cpu: dict[str, list[float]] = {kind: [] for kind in results}
    offset = 0
    for _ in range(0 if args.served_only else args.blocks):
        for kind in results:
            before = time.process_time()
            results[kind].append(block(client, account, args.requests, kind, offset))
            cpu[kind].append((time.process_time() - before) / args.requests)
            offset += args.requests
    print(f"load average {os.getloadavg()[0]:.1f}; {args.blocks} blocks of {args.requests}")
    print("One request at a time, in this process:")
    summary = {}
    for kind, blocks in results.items():
        if not blocks:
            continue
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
            f"  {label:34} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
            f"{statistics.median(rates):6.0f}/s (blocks {min(rates):.0f}-{max(rates):.0f}/s)  "
            f"CPU {statistics.median(cpu[kind]) * 1000:5.2f} ms a request"
        )

    names = args.servers.split(",")
    servers = {}
    try:
        for name in names:
            port = _free_port()
            servers[name] = (port, serve(name, port, args.threads))
            served(port, key, account, 1, 200, offset)  # warm-up: the process's first requests
            offset += 200
        print(f"Served, one process each ({args.threads} threads), {args.requests} a block:")
        for clients in [int(c) for c in args.clients.split(",")]:
            figures = {name: ([], [], [], []) for name in names}
            for _ in range(args.blocks):
                for name in names:  # alternated, block by block
                    port, server = servers[name]
                    rates, p50s, p95s, cpus = figures[name]
                    before = _cpu(server.pid)
                    latencies, wall = served(port, key, account, clients, args.requests, offset)
                    cpus.append((_cpu(server.pid) - before) / len(latencies))
                    offset += args.requests
                    rates.append(len(latencies) / wall)
                    p50s.append(statistics.median(latencies) * 1000)
                    p95s.append(statistics.quantiles(latencies, n=20)[18] * 1000)
            for name in names:
                rates, p50s, p95s, cpus = figures[name]
                print(
                    f"  {name:8} {clients:3} at once: {statistics.median(rates):6.0f}/s "
                    f"(blocks {min(rates):.0f}-{max(rates):.0f}/s)  "
                    f"p50 {statistics.median(p50s):6.2f} ms  "
                    f"p95 {statistics.median(p95s):6.2f} ms  "
                    f"web process CPU {statistics.median(cpus) * 1000:5.2f} ms a message"
                )
                summary[name, clients] = (statistics.median(p95s), statistics.median(rates))
    finally:
        for _, server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    for name in names:
        mine = {
            k[1]: figures for k, figures in summary.items() if isinstance(k, tuple) and k[0] == name
        }
        alone = min(mine)
        most = max(mine, key=lambda clients: mine[clients][1])
        print(
            f"{name}: POST /messages p95 {mine[alone][0]:.1f} ms with {alone} client at a time "
            f"(target <= 20 ms); {mine[most][1]:.0f}/s with {most} at once (target >= 500/s)"
        )
    print(f"load average {os.getloadavg()[0]:.1f}; messages stored: {Message.objects.count():,}")


if __name__ == "__main__":
    main()
