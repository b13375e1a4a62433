"""Time the sending engine: 100,000 messages handed to a sandbox provider that takes 50 ms a
request, by one worker process running the same loop the Celery task runs.

    .venv/bin/python bench/send.py [--messages 100000] [--latency 0.05]
                                   [--providers bsg,mobizon,smsdrop] [--db postgres|sqlite]

Prints, per provider: messages/s for the worker, and Crier's own overhead per message (the wall
time less the time spent waiting for the provider's HTTP answers, which includes the sandbox's
own work of storing and billing every message). The sandbox runs in its own web server process
against the same database; since the sandbox's own work (storing and billing every message)
counts as provider time, the script also prints the rate against a provider that takes exactly
the latency. Since wall time on a shared machine swells with the neighbours' load, it also
prints the CPU time a message of the worker process and of its PostgreSQL connection (the
database's side of the worker's statements; the sandbox's own connection is not counted).
Targets: >= 2,000 messages/s per worker where the provider takes batches; Crier's own time
<= 60 us a message on BSG and <= 100 us on Mobizon (issue #20; 108 and 142 us before it).

PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/crier_bench_send (created afresh;
BENCH_POSTGRES_URL overrides it).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import backend_cpu, fresh_postgres  # noqa: E402 - after the path is set

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_send"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the sandbox server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--providers", default="bsg,mobizon,smsdrop")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="crier-bench-send-"))
    port = _free_port()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        # The accounts call this server's sandbox, which the provider-host rule must allow.
        CRIER_SANDBOX_ORIGINS=f"http://127.0.0.1:{port}",
        CRIER_VAR_DIR=str(var),
        LOG_LEVEL="WARNING",
        DATABASE_URL=POSTGRES if args.db == "postgres" else f"sqlite:///{var / 'bench.sqlite3'}",
    )
    if args.db == "postgres":
        fresh_postgres(POSTGRES)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    server = _serve(port)
    try:
        print(f"{args.messages:,} messages, {args.latency * 1000:.0f} ms a request, {args.db}")
        for slug in args.providers.split(","):
            _bench(slug, args.messages, args.latency, f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait()


def _bench(slug: str, count: int, latency: float, url: str) -> None:
    import httpx
    from django.db import connection

    from campaigns.sending import engine as sending
    from core.statuses import MessageStatus
    from providers.sandbox.models import SandboxAccount
    from tests.sendkit import campaign_for, ledger, sandbox_account
    from workspaces.models import Workspace

    workspace = Workspace.objects.create(name=f"Bench {slug}", default_country="KZ")
    account, remote = sandbox_account(workspace, slug, url, name=f"Bench {time.time_ns()}")
    SandboxAccount.objects.filter(pk=remote.pk).update(slow_seconds=latency)
    campaign = campaign_for(workspace, account, count)

    waited, requests = 0.0, 0
    send = httpx.Client.send

    def timed_send(self, *args, **kwargs):
        nonlocal waited, requests
        requests += 1
        started = time.perf_counter()
        try:
            return send(self, *args, **kwargs)
        finally:
            waited += time.perf_counter() - started

    httpx.Client.send = timed_send
    try:
        database = backend_cpu() if connection.vendor == "postgresql" else float("nan")
        started, cpu = time.perf_counter(), time.process_time()
        sending.run(campaign.pk, budget=3600)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if connection.vendor == "postgresql":
            database = backend_cpu() - database
    finally:
        httpx.Client.send = send
    queued = campaign.messages.filter(status=MessageStatus.QUEUED).count()
    own = wall - waited
    # The sandbox stores and bills every message inside the request, which no latency knob
    # accounts for: the last figure is the rate against a provider that takes exactly
    # ``latency`` a request, from Crier's own time and the number of requests.
    ideal = queued / (own + requests * latency)
    print(
        f"{slug:8} {queued:,} queued in {wall:.1f} s = {queued / wall:,.0f} messages/s per "
        f"worker; provider (HTTP + sandbox) {waited:.1f} s in {requests} requests; Crier's "
        f"own {own:.2f} s = {own / queued * 1e6:.0f} us a message; against a provider taking "
        f"{latency * 1000:.0f} ms a request: {ideal:,.0f} messages/s; ledger {ledger(remote)}; "
        f"CPU a message: worker {cpu / queued * 1e6:.0f} us, its database connection "
        f"{database / queued * 1e6:.0f} us; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
