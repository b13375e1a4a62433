"""Chaos (#13): BSG and Mobizon campaigns of 20,000 each sending at once while everything fails.

Two prefork workers and beat send both campaigns while the test process drives a timeline of
faults: 429s with Retry-After throughout, a 503 burst, crash after accept, a window of slow
accept longer than the provider timeout, a window of malformed JSON, three kill -9 of a worker
in the middle of a batch, the workers' Redis connections killed twice and beat restarted. The
outcome is read from the sandbox's charge ledger: every phone billed exactly once (0
duplicates, 0 lost), no message left pending or submitting (0 stuck), never a request before a
Retry-After had passed.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from campaigns.models import Batch, Campaign
from campaigns.sending.engine import OPEN_BATCHES
from core.statuses import CampaignStatus
from providers.sandbox.models import SandboxAccount
from tests.reliability.conftest import BROKER
from tests.sendkit import campaign_for, ledger, sandbox_account, statuses, unsent

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = 20_000
SENDING_SECONDS = 180  # the whole test stays under 4 minutes on a busy 2-core machine
DONE = {CampaignStatus.SENT, CampaignStatus.COMPLETED}
GAVE_UP = {CampaignStatus.FAILED, CampaignStatus.PAUSED, CampaignStatus.CANCELLED}
HANDED_OVER = {"queued", "sent", "delivered", "undelivered", "expired", "rejected", "unknown"}
# Every Nth request to an account is refused with a 429 (Mobizon: code 30) from start to end.
RATE_LIMITS = {"bsg": (7, 1), "mobizon": (7, 2)}  # (every_n, Retry-After seconds)
# The sandbox bills a batch SLOW_ACCEPT seconds after it arrived, long after the client gave up
# (CRIER_PROVIDER_TIMEOUT is 3 s): a lookup finding nothing proves nothing until SETTLE more
# seconds have passed, SETTLE > SLOW_ACCEPT - 3.
SLOW_ACCEPT, SETTLE = 10.0, 8


# --- The processes under attack ------------------------------------------------------------


class Crew:
    """The prefork workers: each one killed is replaced by a fresh one at once."""

    def __init__(self, processes, size: int):
        self.processes = processes
        self.names: list[str] = []
        self.started = 0
        self.kills: list[tuple[str, bool]] = []  # (worker, whether it was mid-batch)
        for _ in range(size):
            self.start()

    def start(self) -> None:
        self.started += 1
        name = f"worker{self.started}"
        self.processes.worker(name)
        self.names.append(name)

    def at_the_sandbox(self) -> list[str]:
        """The workers one of whose processes is connected to the sandbox right now."""
        connected = _connections_to(self.processes.port)
        return [name for name in self.names if self._sockets(name) & connected]

    def kill(self, name: str, *, mid_batch: bool) -> None:
        self.processes.kill(name)
        self.names.remove(name)
        self.kills.append((name, mid_batch))
        self.start()

    def _sockets(self, name: str) -> set[str]:
        group = self.processes.running[name].pid
        return {inode for pid in _pids_in_group(group) for inode in _socket_inodes(pid)}

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{_errors(path)}"
            for path in sorted(Path(self.processes.logs).glob("*.log"))
        )


def _pids_in_group(group: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # state, ppid, pgrp
            pids.append(int(stat.parent.name))
    return pids


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _connections_to(port: int) -> set[str]:
    """Socket inodes of established TCP connections to 127.0.0.1:port."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, inode = fields[2], fields[3], fields[9]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            inodes.add(inode)
    return inodes


def _errors(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if "ERROR" in line or "Error" in line)[-4000:]


def kill_broker_clients() -> int:
    """CLIENT KILL every connection on the workers' broker database (only theirs: the Redis
    server is shared), from a fresh client that is left alone."""
    db = int(urlsplit(BROKER).path.lstrip("/") or 0)
    client = redis.Redis.from_url(BROKER)
    try:
        me = client.client_id()
        theirs = [c["id"] for c in client.client_list() if int(c["db"]) == db]
        return sum(client.client_kill_filter(_id=i) for i in theirs if int(i) != me)
    finally:
        client.close()


# --- What the test reads ---------------------------------------------------------------------


def knobs(*remotes: SandboxAccount, **values) -> None:
    SandboxAccount.objects.filter(pk__in=[r.pk for r in remotes]).update(**values)


def handed_over(*campaigns: Campaign) -> int:
    return sum(c.messages.filter(status__in=HANDED_OVER).count() for c in campaigns)


def in_flight(*campaigns: Campaign) -> bool:
    """A batch is at the provider: it, and so its messages, are "submitting"."""
    return Batch.objects.filter(campaign__in=campaigns, status="submitting").exists()


def diagnosis(campaigns, crew) -> str:
    """Where each campaign stands, its open batches and why, and the workers' errors."""
    lines = []
    for campaign in campaigns:
        campaign.refresh_from_db()
        lines.append(
            f"{campaign.account.provider}: {campaign.status} {campaign.status_reason!r} "
            f"next_attempt_at={campaign.next_attempt_at} lease_until={campaign.lease_until} "
            f"messages={statuses(campaign)}"
        )
        batches = Counter(campaign.batches.values_list("status", flat=True))
        lines.append(f"  batches: {dict(batches)}")
        for d in campaign.batches.filter(status__in=OPEN_BATCHES).order_by("pk"):
            lines.append(
                f"  open #{d.pk} {d.status} attempts={d.attempts} has_it={d.provider_has_it} "
                f"next={d.next_attempt_at} lease={d.lease_until} last_request={d.last_request_at}"
                f" progress={sorted(d.progress or {})} error={d.last_error!r}"
            )
    return "\n".join(lines) + "\n" + crew.logs()


# --- The run ---------------------------------------------------------------------------------


class Timeline:
    """Faults driven from the test process as the campaigns progress: each one is done once
    the messages handed over in all reach its mark, so every fault meets both campaigns
    mid-send. Windows of trouble (slow accept, malformed JSON) close by themselves."""

    def __init__(self, processes, crew: Crew, remotes, campaigns):
        self.processes, self.crew = processes, crew
        self.remotes, self.campaigns = remotes, campaigns
        self.started = time.monotonic()
        self.closing: list[tuple[float, dict]] = []  # (when, knobs back to normal)
        self.done: list[str] = []
        self.redis_kills: list[int] = []
        self.seen_unknown: dict[str, set[int]] = {r.provider: set() for r in remotes}
        self.unknown_after: Counter[str] = Counter()  # fault -> batches first seen unknown after
        self.steps = [  # (messages handed over in all, fault, action)
            (2_000, "kill -9 a worker", self.kill_mid_batch),
            (5_000, "503 burst", lambda: knobs(*remotes, error_burst=6)),
            (8_000, "Redis clients killed", self.kill_redis_clients),
            (
                11_000,
                "slow accept for 8 s",
                lambda: self.window(8, slow_accept_seconds=SLOW_ACCEPT),
            ),
            (15_000, "kill -9 a worker", self.kill_mid_batch),
            (19_000, "beat restarted", self.restart_beat),
            (23_000, "malformed JSON for 3 s", lambda: self.window(3, malformed_json=True)),
            (27_000, "kill -9 a worker", self.kill_mid_batch),
            (30_000, "Redis clients killed", self.kill_redis_clients),
        ]

    def run(self, seconds: float) -> float:
        """Drive the faults until both campaigns are done (or gave up, or time ran out);
        returns how long it took."""
        deadline = self.started + seconds
        while time.monotonic() < deadline:
            self._close_windows()
            if self.steps and handed_over(*self.campaigns) >= self.steps[0][0]:
                _, fault, act = self.steps.pop(0)
                act()
                self.done.append(f"{time.monotonic() - self.started:.0f}s {fault}")
            self._note_unknown_batches()
            campaigns = Campaign.objects.filter(pk__in=[c.pk for c in self.campaigns])
            status = set(campaigns.values_list("status", flat=True))
            if status & GAVE_UP or (status <= DONE and not self.steps):
                break
            time.sleep(0.2)
        return time.monotonic() - self.started

    def window(self, seconds: float, **values) -> None:
        knobs(*self.remotes, **values)
        normal = {name: type(value)() for name, value in values.items()}  # 0.0, False
        self.closing.append((time.monotonic() + seconds, normal))

    def kill_mid_batch(self) -> None:
        """kill -9 a worker that is at the sandbox while a batch is "submitting"."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if in_flight(*self.campaigns) and (busy := self.crew.at_the_sandbox()):
                self.crew.kill(busy[0], mid_batch=True)
                return
            time.sleep(0.05)
        self.crew.kill(self.crew.names[0], mid_batch=False)

    def kill_redis_clients(self) -> None:
        self.redis_kills.append(kill_broker_clients())

    def restart_beat(self) -> None:
        self.processes.kill("beat")
        self.processes.beat()

    def _close_windows(self) -> None:
        for when, normal in [w for w in self.closing if w[0] <= time.monotonic()]:
            knobs(*self.remotes, **normal)
            self.closing.remove((when, normal))

    def _note_unknown_batches(self) -> None:
        """Batches seen waiting for a lookup: evidence that reconciliation was exercised."""
        unknown = Batch.objects.filter(campaign__in=self.campaigns, status="unknown")
        for pk, provider in unknown.values_list("pk", "campaign__account__provider"):
            if pk not in self.seen_unknown[provider]:
                self.seen_unknown[provider].add(pk)
                self.unknown_after[self.done[-1] if self.done else "start"] += 1


def figures(campaign: Campaign, remote: SandboxAccount, timeline: Timeline) -> dict:
    """What the provider billed and saw, and where the campaign ended."""
    campaign.refresh_from_db()
    remote.refresh_from_db()
    return {
        **ledger(remote),
        "status": campaign.status,
        "requests": remote.request_count,
        "429s": remote.request_count // remote.rate_limit_every_n,
        "early_requests": remote.early_requests,
        "503s_left": remote.error_burst,
        "crashed_after_accept": remote.accepting_requests // remote.crash_after_accept_every_n,
        "batches": campaign.batches.count(),
        "batches_seen_unknown": len(timeline.seen_unknown[remote.provider]),
        "batches_retried": campaign.batches.filter(attempts__gt=0).count(),
        "unsent": unsent(campaign),
        "messages": statuses(campaign),
    }


def test_chaos_on_bsg_and_mobizon_at_once_sends_each_message_exactly_once(acme, processes):
    processes.env |= {
        "CRIER_SEND_BATCH_SIZE": "1000",
        "CRIER_LEASE_SECONDS": "6",
        "CRIER_RECONCILE_SETTLE_SECONDS": str(SETTLE),
    }
    remotes, campaigns = [], []
    for slug in ("bsg", "mobizon"):
        account, remote = sandbox_account(acme.workspace, slug, processes.url, name="Chaos")
        every_n, retry_after = RATE_LIMITS[slug]
        knobs(remote, rate_limit_every_n=every_n, retry_after=retry_after)
        knobs(remote, crash_after_accept_every_n=5)  # one accepted batch in five answers 500
        remotes.append(remote)
        campaigns.append(campaign_for(acme.workspace, account, RECIPIENTS, name=f"Chaos {slug}"))
    crew = Crew(processes, size=2)
    processes.beat()

    timeline = Timeline(processes, crew, remotes, campaigns)
    duration = timeline.run(SENDING_SECONDS)

    faults = [f"{fault} ({timeline.unknown_after[fault]} unknown next)" for fault in timeline.done]
    print(f"\nchaos: {duration:.1f} s; faults: " + "; ".join(faults))
    print(f"kills: {crew.kills}; Redis connections killed: {timeline.redis_kills}")
    outcome = {r.provider: figures(c, r, timeline) for c, r in zip(campaigns, remotes, strict=True)}
    for provider, figure in outcome.items():
        print(f"{provider}: {figure}")
    finished = all(f["status"] in DONE for f in outcome.values())
    assert finished, f"not finished in {duration:.0f} s\n{diagnosis(campaigns, crew)}"
    assert not timeline.steps, f"faults never reached: {timeline.steps}"
    for provider, f in outcome.items():
        assert (f["charges"], f["phones_charged_twice"]) == (RECIPIENTS, 0), provider
        assert f["unsent"] == 0, provider
        assert set(f["messages"]) <= HANDED_OVER, provider
        assert f["early_requests"] == 0, provider  # never a request before Retry-After passed
        assert f["503s_left"] == 0 and f["429s"] and f["crashed_after_accept"], provider
    for campaign in campaigns:
        assert not campaign.batches.filter(status__in=OPEN_BATCHES).exists()
        assert not campaign.messages.filter(error_code="unconfirmed").exists()
    assert [hit for _, hit in crew.kills] == [True] * 3, crew.kills  # each kill was mid-batch
    assert len(timeline.redis_kills) == 2
