"""Claim -> submit -> record: every message handed to the provider at most once, none lost.

The database is the record of what was sent. A worker claims pending messages as a ``Batch``
(row locks with SKIP LOCKED on PostgreSQL; elsewhere a conditional UPDATE checked by its row
count), marks it ``submitting`` and commits *before* calling the provider, then records the
outcome. Every message carries its reference to the provider.

A worker holds a batch under a lease that it renews before every request; the lease outlasts
the provider timeout, so a batch whose lease ran out was abandoned (the worker died). Such a
batch, and any batch whose answer was lost, is ``unknown``: it is reconciled through the
adapter (``reconcile``: looking the batch up at the provider), never by sending it again. A
provider that cannot tell leaves its messages ``unknown`` for a person to check.

Faults: RateLimited waits at least Retry-After (full-jitter backoff above it); TemporaryError
retries the same batch with backoff up to CRIER_SEND_MAX_ATTEMPTS, then fails it with the last
error; InsufficientFunds and AuthError pause the campaign with the reason; a batch refused
outright fails its messages, and CRIER_SEND_PAUSE_AFTER_ERRORS such batches in a row pause the
campaign. Waiting is never done in a worker: ``next_attempt_at`` tells the beat task when to
hand the campaign out again. A campaign with a backup account counts its primary's errors
towards its failover rule (campaigns.sending.failover) and, once it has failed over, moves
each of the primary's batches proved never taken to the backup instead of retrying it there.

Longer than 400 lines because claiming, submitting, recording and reconciling a batch keep one
set of promises (at most once, none lost) over the same rows and leases; split apart, each part
would have to restate them.
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

import httpx
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.template.defaultfilters import pluralize
from django.utils import timezone

from campaigns import status_events, windows
from campaigns.compose.outgoing import messages_for, personal_calls, spec_for
from campaigns.models import Batch, Campaign, Message, new_reference
from campaigns.sending import failover
from contacts import book
from core import bulk
from core.jsonkeys import SetKeys
from core.queue import enqueue
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.base import NEVER_SENT, BatchState, ProviderAdapter, Submission
from providers.errors import (
    AuthError,
    DuplicateReference,
    InsufficientFunds,
    NotSupported,
    ProviderError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from providers.http import CONNECT_TIMEOUT
from providers.models import ProviderAccount
from webhooks.models import EventType

logger = logging.getLogger(__name__)

OPEN_BATCHES = (
    BatchStatus.CLAIMED,
    BatchStatus.SUBMITTING,
    BatchStatus.UNKNOWN,
    BatchStatus.HELD,
)
STOP_LISTED = "stop_listed"
# Campaigns that send nothing more but whose unknown batches are still looked up.
LOOKING_UP = (CampaignStatus.PAUSED, CampaignStatus.CANCELLED)
STOPPED_BEFORE_SENT = "The campaign was stopped before this message was sent."


def lease_seconds() -> float:
    """How long a campaign or a batch stays a worker's without a heartbeat (CRIER_LEASE_SECONDS):
    a worker killed mid-batch lets go of both within this time."""
    return settings.CRIER_LEASE_SECONDS


def request_seconds() -> float:
    """The longest one provider request can keep a live worker waiting (write and read
    timeouts, and connecting): a worker silent for longer is hung, and its heartbeat stops."""
    return 2 * settings.CRIER_PROVIDER_TIMEOUT + 10


def settle_seconds(adapter_class: type[ProviderAdapter]) -> float:
    """How long the provider may still be working on a request it got (its adapter says why),
    unless CRIER_RECONCILE_SETTLE_SECONDS overrides every provider's."""
    if settings.CRIER_RECONCILE_SETTLE_SECONDS >= 0:
        return settings.CRIER_RECONCILE_SETTLE_SECONDS
    return adapter_class.settle_time.total_seconds()


def _sent_at(batch: Batch):
    """When the batch's last sending request left. Every such request records it first, so a
    batch without it never sent one (or predates the record): its claim is the anchor then, a
    fixed one. (Its last update is no anchor: each look-up moves it, and the settle time would
    never pass.)"""
    return batch.last_request_at or batch.created_at


def settled_at(batch: Batch, adapter_class: type[ProviderAdapter]):
    """From when a lookup that finds nothing proves that the provider never took the batch:
    its last sending request may have been on its way for the connect and write timeouts,
    then in the provider's hands for its settle time."""
    sent = _sent_at(batch)
    in_transit = CONNECT_TIMEOUT + settings.CRIER_PROVIDER_TIMEOUT
    return sent + timedelta(seconds=in_transit + settle_seconds(adapter_class))


def backoff(attempt: int, at_least: float = 0.0) -> float:
    """Seconds to wait before try ``attempt + 1``: full jitter, never less than ``at_least``."""
    ceiling = min(settings.CRIER_SEND_BACKOFF_CAP, 2.0 ** max(attempt, 0))
    return max(at_least, random.uniform(0, ceiling))


# --- The loop a task runs ------------------------------------------------------------------


def run(campaign_id: int, budget: float | None = None) -> dict:
    """Send what is due of one campaign for up to ``budget`` seconds (default
    CRIER_SEND_TASK_SECONDS): first its open batches (retries, reconciliations), then new
    batches. Safe to run concurrently with itself: workers never share a batch."""
    budget = settings.CRIER_SEND_TASK_SECONDS if budget is None else budget
    deadline = time.monotonic() + budget
    summary: Counter[str] = Counter()
    with Heartbeat(campaign_id) as heartbeat:
        _run(campaign_id, deadline, summary, heartbeat)
    return dict(summary)


def _run(campaign_id: int, deadline: float, summary: Counter, heartbeat: Heartbeat) -> None:
    while True:
        heartbeat.touch()
        campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
        if campaign is not None and campaign.status in LOOKING_UP:
            _look_up_stopped(campaign, deadline, summary, heartbeat)
        if campaign is None or campaign.status != CampaignStatus.SENDING:
            break
        if campaign.next_attempt_at and campaign.next_attempt_at > timezone.now():
            summary["waiting"] += 1
            break
        taken = take_open(campaign) or claim(campaign)
        if taken is None:
            with transaction.atomic():  # the campaign's end and its event commit together
                finished = finish_if_done(campaign)
                if finished:
                    status_events.campaign_changed(
                        campaign, EventType.CAMPAIGN_FAILED, if_status=CampaignStatus.FAILED
                    )
            if finished:
                summary["finished"] += 1
            else:
                _wait_for_open_batches(campaign)
            break
        held = HeldBatch(campaign, *taken, heartbeat=heartbeat)
        with heartbeat.holding(held.batch.pk, held.token):
            outcome = held.process()
        summary[outcome] += 1
        if outcome == "waiting" or time.monotonic() >= deadline:
            break


def _look_up_stopped(campaign: Campaign, deadline: float, summary: Counter, heartbeat) -> None:
    """A paused or stopped campaign sends nothing more, but its batches whose fate is unknown
    (the answer lost, or their worker died mid-call) are still looked up, so their messages
    end with a true status and cost: what the provider took is tracked, what it never took
    waits for the resume (paused) or is cancelled (stopped). The campaign then sleeps until
    its next lookup is due (``next_attempt_at``; None when it owes none)."""
    while taken := take_open(campaign, lookups_only=True):
        held = HeldBatch(campaign, *taken, heartbeat=heartbeat)
        with heartbeat.holding(held.batch.pk, held.token):
            summary[held.process()] += 1
        if time.monotonic() >= deadline:
            break
    lookups = campaign.batches.filter(status__in=[BatchStatus.UNKNOWN, BatchStatus.SUBMITTING])
    times = [t for pair in lookups.values_list("next_attempt_at", "lease_until") for t in pair]
    when = min((t for t in times if t is not None), default=None)
    if when is None and lookups.exists():
        when = timezone.now()
    # Not over a resume that came meanwhile: the resumed campaign sends at once.
    Campaign.objects.filter(pk=campaign.pk, status__in=LOOKING_UP).update(next_attempt_at=when)


def next_lookup(campaign: Campaign):
    """For a campaign being paused or stopped: now when a batch of its fate is unknown or on
    its way (its lookups go on: ``_look_up_stopped``), else None."""
    owed = campaign.batches.filter(status__in=[BatchStatus.UNKNOWN, BatchStatus.SUBMITTING])
    return timezone.now() if owed.exists() else None


def dispatch_due(hand_over: Callable[[int], object]) -> dict:
    """The beat task's work: start scheduled campaigns whose time has come, then hand every
    sending campaign that is due and in no worker's hands to ``hand_over`` (its id), once: the
    campaign is leased for as long as a task may keep it."""
    now = timezone.now()
    started = (
        Campaign.objects.filter(status=CampaignStatus.SCHEDULED)
        .filter(Q(start_at__isnull=True) | Q(start_at__lte=now))
        # Polled at once: the first poll writes the chart's starting point.
        .update(status=CampaignStatus.SENDING, updated_at=now, next_poll_at=now)
    )
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    sending = Campaign.objects.filter(status=CampaignStatus.SENDING).filter(due)
    # A paused or stopped campaign only when a lookup of its own is due (_look_up_stopped).
    sending |= Campaign.objects.filter(status__in=LOOKING_UP, next_attempt_at__lte=now)
    handed_out = 0
    for pk in sending.filter(_free(now)).values_list("pk", flat=True):
        if take_for_worker(pk, now):
            hand_over(pk)
            handed_out += 1
    return {"started": started, "handed_out": handed_out}


def _free(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def take_for_worker(campaign_id: int, now=None) -> bool:
    """Leases the campaign for a task about to be queued; False when a worker has it."""
    now = now or timezone.now()
    # Long enough for the task to wait in the queue and start; once it runs, its heartbeat
    # keeps the lease at CRIER_LEASE_SECONDS ahead.
    lease = now + timedelta(seconds=settings.CRIER_SEND_TASK_SECONDS + request_seconds())
    return bool(Campaign.objects.filter(_free(now), pk=campaign_id).update(lease_until=lease))


def release(campaign_id: int) -> None:
    """The task is done with the campaign: the beat task may hand it out again."""
    Campaign.objects.filter(pk=campaign_id).update(lease_until=None)


def _wait_for_open_batches(campaign: Campaign) -> None:
    """Nothing to do now: sleep the campaign until its earliest open batch is due, or until
    its recipients' window opens (claim's windows.wait_for_window) if that comes first."""
    waiting = campaign.batches.filter(status__in=OPEN_BATCHES)
    times = [t for pair in waiting.values_list("next_attempt_at", "lease_until") for t in pair]
    if times := [t for t in times if t is not None]:
        # A wake set in this run (beat handed the campaign out only once its own was due).
        opening = Campaign.objects.filter(pk=campaign.pk, next_attempt_at__gt=timezone.now())
        times += opening.values_list("next_attempt_at", flat=True)
        Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=min(times))


def take_open(campaign: Campaign, *, lookups_only: bool = False) -> tuple[Batch, str] | None:
    """An open batch of the campaign that is due, taken under a fresh lease (or None);
    ``lookups_only``: only one whose fate is unknown.

    A ``submitting`` batch whose lease ran out was abandoned mid-call, so it is taken as
    ``unknown``: whatever its worker did must be looked up before anything else.
    """
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    waiting = Q(status__in=[BatchStatus.CLAIMED, BatchStatus.UNKNOWN, BatchStatus.HELD])
    if lookups_only:
        waiting = Q(status=BatchStatus.UNKNOWN)
    abandoned = Q(status=BatchStatus.SUBMITTING)
    candidates = campaign.batches.filter((waiting & due & free) | (abandoned & free))
    for batch in candidates.order_by("pk")[:10]:
        token = secrets.token_hex(16)
        status = BatchStatus.UNKNOWN if batch.status == BatchStatus.SUBMITTING else batch.status
        taken = (
            Batch.objects.filter(pk=batch.pk, status=batch.status)
            .filter(free)
            .update(status=status, lease_until=_lease_end(), lease_token=token)
        )
        if taken:
            batch.refresh_from_db()
            return batch, token
    return None


def claim(campaign: Campaign) -> tuple[Batch, str] | None:
    """Set aside the next batch of pending messages as a new Batch (or None: none left).

    A batch goes through one route: the account and sender name of the oldest pending
    message (Message.account and sender; empty meaning the account its country is routed
    through at launch, Campaign.routed_countries, else the campaign's), recorded on the batch
    and on its messages; the other pending messages of that route fill it, up to its
    account's batch size. The launch rewrites no message for the cheapest route: the claim's
    UPDATE names the account as it takes them.

    Opted-out numbers are cancelled here, and once more right before the batch's first
    request (HeldBatch._leave_out_opted_out), which also catches an opt-out committed while
    this transaction was open.
    """
    token = secrets.token_hex(16)
    routed = campaign.routed_countries()
    with transaction.atomic():
        pending = Message.objects.filter(campaign=campaign, status=MessageStatus.PENDING)
        pending = windows.open_now(campaign, pending)  # the deadline, each recipient's window
        pending = pending.order_by("pk")
        oldest = pending.values_list("account_id", "sender", "country").first()
        if oldest is None:
            windows.wait_for_window(campaign)
            return None
        account_id = oldest[0] or routed.get(oldest[2]) or campaign.account_id
        sender = oldest[1] or campaign.sender
        account = campaign.account if account_id == campaign.account_id else None
        account = account or ProviderAccount.objects.get(pk=account_id)
        pending = pending.filter(on_route(campaign, account_id, sender, routed))
        pending = pending.values_list("pk", flat=True)
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        ids = list(pending[: batch_size(campaign, account)])
        if not ids:
            windows.wait_for_window(campaign)
            return None
        batch = Batch.objects.create(
            campaign=campaign,
            account=account,
            sender=sender,
            key=new_reference(),
            lease_until=_lease_end(),
            lease_token=token,
        )
        changes = {"status": MessageStatus.SUBMITTING, "batch": batch}
        if account_id != campaign.account_id:  # the campaign's own keep Message.account empty
            changes["account_id"] = account_id
        # The status condition makes a claim without row locks (SQLite) exclusive as well.
        taken = Message.objects.filter(_among(ids), status=MessageStatus.PENDING).update(
            **changes, updated_at=timezone.now()
        )
        stopped = _cancel_stop_listed(campaign, batch)
        batch.size = taken - stopped
        if not batch.size:
            batch.status = BatchStatus.CANCELLED
        batch.save(update_fields=["size", "status"])
    return batch, token


def _among(ids: list[int]) -> Q:
    """Messages whose id is one of ``ids``: on PostgreSQL one array parameter, not a
    placeholder an id (a claim of 10,000 spent more on building and parsing its SQL than the
    database spent on the rows). The ids are fetched first, not picked by a subquery of the
    UPDATE: PostgreSQL may rescan such a subquery (LIMIT ... FOR UPDATE SKIP LOCKED) as the
    UPDATE goes, each time finding the next pending messages, and take them all."""
    if connection.vendor == "postgresql":
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(pk__in=ids)


def on_route(
    campaign: Campaign, account_id: int, sender: str, routed: dict[str, int] | None = None
) -> Q:
    """Messages that go through ``account_id`` with ``sender``: named so, or left empty where
    that is where they go (``routed``: Campaign.routed_countries, read if not given)."""
    routed = campaign.routed_countries() if routed is None else routed
    accounts = Q(account_id=account_id)
    theirs = sorted(country for country, account in routed.items() if account == account_id)
    if account_id == campaign.account_id:
        own = Q(account__isnull=True)
        accounts |= own & ~Q(country__in=sorted(routed)) if routed else own
    elif theirs:
        accounts |= Q(account__isnull=True, country__in=theirs)
    senders = Q(sender=sender)
    if sender == campaign.sender:
        senders |= Q(sender="")
    return accounts & senders


def batch_size(campaign: Campaign, account: ProviderAccount | None = None) -> int:
    """The provider's largest batch on ``account`` (default: the campaign's), capped by
    CRIER_SEND_BATCH_SIZE and, where Crier paces the campaign itself, by its rate limit. One
    where each call reads its own text and the provider takes one text a batch."""
    account = account or campaign.account
    caps = account.adapter_class.capabilities
    if personal_calls(campaign) and not caps.personalised_voice:
        return 1
    size = caps.max_batch_size
    if settings.CRIER_SEND_BATCH_SIZE:
        size = min(size, settings.CRIER_SEND_BATCH_SIZE)
    if _paced_by_crier(campaign, account):
        size = min(size, pace(campaign)[0])
    return max(size, 1)


def pace(campaign: Campaign) -> tuple[int, timedelta]:
    """(batch size, time between batches) for "at most N per period", spread evenly: the
    smallest batch that beat's tick can keep up with, at N / period on average. 100 an hour
    is one message every 36 s; 600 a minute is 20 messages every 2 s."""
    limit, period = campaign.rate_limit, float(campaign.rate_period or 60)
    size = min(limit, max(1, math.ceil(limit * PACE_TICK / period)))
    return size, timedelta(seconds=period * size / limit)


def _paced_by_crier(campaign: Campaign, account: ProviderAccount) -> bool:
    """Whether Crier spreads a rate-limited campaign's sends itself: when the provider cannot
    (no rate limit of its own), and under a sending window or a deadline whatever it can, as
    a provider pacing a big batch would trickle it past the window's end or the deadline."""
    if not campaign.rate_limit:
        return False
    timed = bool(windows.zone_keys(campaign) or campaign.deadline)
    return timed or not account.adapter_class.capabilities.rate_limit


def _cancel_stop_listed(campaign: Campaign, batch: Batch) -> int:
    """Cancels the batch's unsent messages to opted-out numbers, in one statement (it sees
    every opt-out committed before it starts); returns how many."""
    opted_out = book.opted_out_phones(campaign.workspace_id)
    unsent = Message.objects.filter(batch=batch, status=MessageStatus.SUBMITTING)
    return status_events.update(
        campaign.workspace_id,
        unsent.filter(phone__in=opted_out),
        status=MessageStatus.CANCELLED,
        error_code=STOP_LISTED,
        error_reason="The contact opted out before the message was sent.",
        updated_at=timezone.now(),
    )


def finish_if_done(campaign: Campaign) -> bool:
    """Marks a sending campaign ``sent`` (or ``failed``) once nothing is left to hand over;
    a transactional one (campaigns.transactional) stays open for the next message."""
    if campaign.transactional:
        return False
    unsent = [MessageStatus.PENDING, MessageStatus.SUBMITTING]
    if campaign.messages.filter(status__in=unsent).exists():
        return False
    if campaign.batches.filter(status__in=OPEN_BATCHES).exists():
        return False
    handed_over = campaign.batches.filter(status=BatchStatus.SUBMITTED, accepted__gt=0)
    if handed_over.exists():
        status, reason = CampaignStatus.SENT, ""
    else:
        status = CampaignStatus.FAILED
        last = campaign.batches.exclude(last_error="").order_by("-pk").first()
        reason = last.last_error if last else _expired_unsent(campaign)
    return bool(
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
            status=status,
            status_reason=reason,
            submitted_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )


def _expired_unsent(campaign: Campaign) -> str:
    """Why a campaign failed with no message taken and no call failing: its deadline
    came first (campaigns.windows), or nothing at all could be sent."""
    expired = campaign.messages.filter(status=MessageStatus.CANCELLED, error_code=windows.DEADLINE)
    first = expired.values_list("error_reason", flat=True).first()
    if first is None:
        return "No message could be sent."
    count = expired.count()
    why = first.split(": ", 1)[-1]  # "Not handed over before the campaign's deadline, ..."
    return (
        f"{count:,} message{'s' if count != 1 else ''} expired unsent: {why[:1].lower()}{why[1:]}"
    )


# --- One batch -----------------------------------------------------------------------------


class Heartbeat:
    """Keeps a running task's leases (its campaign's and the batch it holds) a lease ahead,
    from a thread, so that leases can be short: a worker killed mid-batch lets go within
    CRIER_LEASE_SECONDS, and beat hands the campaign to another. The beat stops when the task
    shows no sign of life (``touch``, before every request) for longer than one request can
    last, so a hung worker lets go too."""

    def __init__(self, campaign_id: int):
        self.campaign_id = campaign_id
        self.batch: tuple[int, str] | None = None
        self.alive_at = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="crier-lease", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._renew()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def touch(self) -> None:
        self.alive_at = time.monotonic()

    def holding(self, batch_pk: int, token: str) -> _Holding:
        return _Holding(self, (batch_pk, token))

    def _beat(self) -> None:
        try:
            while not self._stop.wait(lease_seconds() / 3):
                if time.monotonic() - self.alive_at <= request_seconds():
                    self._renew()
        finally:
            connections.close_all()  # this thread's own connection

    def _renew(self) -> None:
        until = _lease_end()
        try:
            Campaign.objects.filter(pk=self.campaign_id, lease_until__isnull=False).update(
                lease_until=until
            )
            if batch := self.batch:
                Batch.objects.filter(pk=batch[0], lease_token=batch[1]).update(lease_until=until)
        except DatabaseError:  # a busy database: the next beat tries again, well in time
            logger.warning("Could not renew the leases of campaign %s", self.campaign_id)


class _Holding:
    def __init__(self, heartbeat: Heartbeat, batch: tuple[int, str]):
        self.heartbeat, self.batch = heartbeat, batch

    def __enter__(self) -> None:
        self.heartbeat.batch = self.batch

    def __exit__(self, *exc_info) -> None:
        self.heartbeat.batch = None


@dataclass
class HeldBatch:
    """One batch in the hands of this worker, identified by its lease token."""

    campaign: Campaign
    batch: Batch
    token: str
    heartbeat: Heartbeat | None = None
    sending: bool = False  # inside ``submit``: each request may send

    @cached_property
    def account(self) -> ProviderAccount:
        """The account the batch goes through (Batch.account; older batches: the campaign's)."""
        return self.batch.account if self.batch.account_id else self.campaign.account

    def process(self) -> str:
        """Submit, retry or reconcile the batch; returns what happened, for the summary."""
        status = self.batch.status
        if status == BatchStatus.CANCELLED:
            return "cancelled"
        if failover.movable(self.batch) and failover.away_from(self.campaign, self.account):
            return self._move_to_backup()
        if quiet := self.account.quiet_left():  # a 429 to any caller holds every caller
            self._update(next_attempt_at=quiet, lease_until=None, lease_token="")
            Campaign.objects.filter(pk=self.campaign.pk).update(next_attempt_at=quiet)
            return "waiting"
        with self._adapter() as adapter:
            if status == BatchStatus.HELD and failover.away_from(self.campaign, self.account):
                return self._withdraw_to_backup(adapter)
            if status == BatchStatus.UNKNOWN:
                return self._reconcile(adapter)
            return self._submit(adapter)

    # --- The provider calls ---

    def _submit(self, adapter: ProviderAdapter) -> str:
        # The commit that makes the batch "submitting" comes before the call, and only happens
        # while the campaign is still sending: a pause or stop holds every batch not yet out.
        untouched = self.batch.status == BatchStatus.CLAIMED and not self.batch.progress
        if not self._flip():
            self._update(lease_until=None, lease_token="")  # paused or stopped: let it wait
            return "held back"
        if self._expire_if_late(adapter):
            return "expired"
        if self._outside_window(untouched):
            return "waiting"
        if untouched and self._leave_out_opted_out():
            return "cancelled"
        spec, outgoing, state = self._request()
        self.sending = True
        try:
            submission = adapter.submit(spec, outgoing, state)
        except ProviderError as error:
            failure = error
        else:
            failure = None
        self.sending = False  # the lookups that may follow send nothing
        if failure is None:
            if self._held_fails_over(submission):
                return self._withdraw_to_backup(adapter, submission)
            return self._record(submission)
        if isinstance(failure, DuplicateReference):  # evidence: the provider has it already
            self._update(status=BatchStatus.UNKNOWN, provider_has_it=True, last_error=str(failure))
            return self._reconcile(adapter)
        if isinstance(failure, UnknownOutcome):
            self._update(status=BatchStatus.UNKNOWN, last_error=str(failure))
            return self._reconcile(adapter)
        return self._failed_call(failure, nothing_sent=True)

    def _flip(self) -> int:
        """The commit before the call: the batch becomes ``submitting`` if it is still claimed
        or held and the campaign still sending (1), else nothing (0). The batch's own
        conditions stay in the UPDATE's WHERE (a filter across the join would put them in a
        subquery PostgreSQL does not check again after waiting for a lock): a stop that locked
        the batch (services.stop) makes this wait, then find it cancelled."""
        sending = Campaign.objects.filter(pk=self.campaign.pk, status=CampaignStatus.SENDING)
        flipped = self._mine().filter(
            status__in=[BatchStatus.CLAIMED, BatchStatus.HELD],
            campaign_id__in=sending.values("pk"),
        )
        return flipped.update(status=BatchStatus.SUBMITTING, lease_until=_lease_end())

    def _expire_if_late(self, adapter: ProviderAdapter) -> bool:
        """Past the campaign's deadline, a batch the provider never took (claimed before it,
        or back from a failed try) is not sent, nor is one the provider holds unlaunched
        (smsdrop without credits) launched: its messages expire here, and a held one is
        withdrawn where the provider allows it. A batch whose request went out is reconciled
        as ever, never sent again."""
        held = self.batch.status == BatchStatus.HELD
        if self.batch.status not in (BatchStatus.CLAIMED, BatchStatus.HELD):
            return False
        if not windows.past_deadline(self.campaign):
            return False
        if held and self.account.adapter_class.capabilities.delete_before_start:
            try:
                adapter.delete(self.batch.provider_campaign_id)
            except ProviderError as error:  # it stays unlaunched there: nothing goes out
                logger.warning("Batch %s: could not withdraw it: %s", self.batch.pk, error)
        unsent = Message.objects.filter(batch=self.batch, status=MessageStatus.SUBMITTING)
        windows.expire(self.campaign, unsent)
        self._update(status=BatchStatus.CANCELLED, lease_until=None, lease_token="")
        return True

    def _outside_window(self, untouched: bool) -> bool:
        """A batch is handed over only while its recipients' windows are open, whatever kept
        it since its claim (a dead worker, a pause, a backoff, the provider's hold): an
        untouched claimed batch gives the messages whose window closed back to pending
        (nothing of it reached the provider); one the provider holds, or has part of, waits
        for the next opening. True when nothing goes now."""
        if self.batch.status not in (BatchStatus.CLAIMED, BatchStatus.HELD):
            return False
        if not windows.zone_keys(self.campaign):
            return False
        unsent = Message.objects.filter(batch=self.batch, status=MessageStatus.SUBMITTING)
        closed = unsent.exclude(pk__in=windows.open_now(self.campaign, unsent).values("pk"))
        if self.batch.status == BatchStatus.HELD or not untouched:
            # Held by the provider, or part-way through its calls (Mobizon's Create went
            # through, its Send did not): the provider has the recipients, so the batch waits
            # whole for the next opening (review r22: it went on at its retry, at night).
            if not closed.exists():
                return False
            when = windows.wait_for_window(self.campaign)
            when = when or timezone.now() + windows.NEVER_OPEN_RECHECK
            self._update(
                status=self.batch.status, next_attempt_at=when, lease_until=None, lease_token=""
            )
            return True
        back = closed.update(status=MessageStatus.PENDING, batch=None, updated_at=timezone.now())
        if not back:
            return False
        if size := max(self.batch.size - back, 0):
            self.batch.size = size
            self._update(size=size)
            return False
        self._update(size=0, status=BatchStatus.CANCELLED, lease_until=None, lease_token="")
        windows.wait_for_window(self.campaign)
        return True

    def _leave_out_opted_out(self) -> bool:
        """Cancels the batch's messages to numbers opted out since the claim; True when none
        is left to send. Only for a batch the provider has seen nothing of (still claimed,
        no progress): the check runs after the claim committed, so every opt-out committed
        before the claim (even while the claim's transaction was open) is seen here."""
        stopped = _cancel_stop_listed(self.campaign, self.batch)
        if not stopped:
            return False
        size = max(self.batch.size - stopped, 0)
        if size:
            self._update(size=size)
            return False
        self._update(size=0, status=BatchStatus.CANCELLED, lease_until=None, lease_token="")
        return True

    def _reconcile(self, adapter: ProviderAdapter) -> str:
        """Find out from the provider what became of the batch; resend it only on evidence
        that the provider never took it."""
        spec, outgoing, state = self._request()
        try:
            submission = adapter.reconcile(spec, outgoing, state)
        except NotSupported:
            return self._unknown_for_good(_cannot_look_up(adapter.label))
        except ProviderError as error:
            return self._failed_call(error, nothing_sent=False)
        if submission is NEVER_SENT:
            return self._send_again()
        if submission is None:
            return self._found_nothing(type(adapter))
        if not submission.launched and self._stopped():
            self._update(provider_campaign_id=submission.provider_campaign_id)
            return self._cancel_stopped()  # never launched, and never will be
        if self._held_fails_over(submission):
            return self._withdraw_to_backup(adapter, submission)
        self._record(submission)
        return "reconciled"

    def _found_nothing(self, adapter_class: type[ProviderAdapter]) -> str:
        """A lookup found no trace of the batch. That is evidence only once the provider can no
        longer be working on the last request (``settled_at``), and never after the provider
        refused the batch as one it has: then Crier looks again, and in the end leaves its
        messages unknown for a person rather than sending them twice."""
        now = timezone.now()
        if self.batch.provider_has_it:
            sent = _sent_at(self.batch)
            if now - sent > timedelta(seconds=settings.CRIER_RECONCILE_GIVE_UP_SECONDS):
                return self._unknown_for_good(_said_it_has_them(adapter_class.label))
            attempts = self.batch.attempts + 1
            wait = backoff(attempts, at_least=min(2.0**attempts, settings.CRIER_SEND_BACKOFF_CAP))
            self._look_again(now + timedelta(seconds=wait), attempts=attempts)
            return "looking"
        if now < (settled := settled_at(self.batch, adapter_class)):
            self._look_again(settled)
            return "settling"
        return self._send_again()

    def _stopped(self) -> bool:
        return Campaign.objects.filter(
            pk=self.campaign.pk, status=CampaignStatus.CANCELLED
        ).exists()

    def _cancel_stopped(self) -> str:
        """The campaign was stopped and the provider never took (or never launched) the
        batch: it is cancelled with its messages, as the stop cancelled the batches then
        unsent."""
        with transaction.atomic():
            if not self._mine().select_for_update().exists():
                return "lost lease"
            status_events.update(
                self.campaign.workspace_id,
                Message.objects.filter(batch=self.batch, status=MessageStatus.SUBMITTING),
                status=MessageStatus.CANCELLED,
                error_reason=STOPPED_BEFORE_SENT,
                updated_at=timezone.now(),
            )
            self._update(status=BatchStatus.CANCELLED, lease_until=None, lease_token="")
        return "cancelled"

    def _send_again(self) -> str:
        """The provider certainly never took the batch: it goes again as it is, after the
        backoff a failed try earns (the call that left it unknown did fail); a stopped
        campaign's is cancelled instead."""
        if self._stopped():
            return self._cancel_stopped()
        error = TemporaryError(self.batch.last_error or "The provider did not answer.")
        return self._failed_call(error, nothing_sent=True)

    def _look_again(self, when, *, attempts: int | None = None) -> None:
        """Stay unknown and look the batch up again at ``when``; the campaign goes on."""
        self._update(
            status=BatchStatus.UNKNOWN,
            attempts=self.batch.attempts if attempts is None else attempts,
            next_attempt_at=when,
            lease_until=None,
            lease_token="",
        )

    def _request(self):
        batch = self.batch
        messages = Message.objects.filter(batch=batch, status=MessageStatus.SUBMITTING)
        state = BatchState(
            key=batch.key,
            since=batch.created_at,
            provider_campaign_id=batch.provider_campaign_id,
            launched=batch.status == BatchStatus.SUBMITTED,
            on_created=self._created,
            progress=dict(batch.progress or {}),
            on_progress=self._advanced,
        )
        spec = spec_for(self.campaign, sending=True, account=self.account, sender=batch.sender)
        return spec, messages_for(self.campaign, messages), state

    def _advanced(self, notes: dict) -> None:
        """Saved at once: a retry goes on from here. Only the keys just noted are written."""
        self.batch.progress = {**(self.batch.progress or {}), **notes}
        self._mine().update(progress=SetKeys("progress", notes))

    def _created(self, provider_campaign_id: str) -> None:
        """Saved at once: a batch that dies after this resumes the provider's campaign."""
        self.batch.provider_campaign_id = provider_campaign_id
        self._mine().update(provider_campaign_id=provider_campaign_id, lease_until=_lease_end())

    def _adapter(self) -> ProviderAdapter:
        """The account's adapter on a client that renews the lease before every request."""

        def renew(request: httpx.Request) -> None:
            changes = {"lease_until": _lease_end()}
            if self.sending:  # settled_at counts from the last request that may have sent
                changes["last_request_at"] = timezone.now()
            self._mine().update(**changes)
            if self.heartbeat:
                self.heartbeat.touch()

        return self.account.adapter(on_request=renew)

    # --- Outcomes ---

    def _record(self, submission: Submission) -> str:
        """The provider's answer, written in one transaction; a worker that lost its lease
        writes nothing (the batch was taken over and is being reconciled)."""
        accepted = [r for r in submission.results if r.accepted]
        rejected = [r for r in submission.results if not r.accepted]
        held = not submission.launched
        now = timezone.now()
        with transaction.atomic():
            if not self._mine().select_for_update().exists():
                return "lost lease"
            if not held:
                _write_results(self.batch, accepted, rejected, now)
                changed = Message.objects.filter(batch=self.batch, updated_at=now)
                status_events.report(self.campaign.workspace_id, changed)
            self._update(
                status=BatchStatus.HELD if held else BatchStatus.SUBMITTED,
                provider_campaign_id=submission.provider_campaign_id,
                remote_status=submission.campaign_status,
                accepted=len(accepted),
                rejected=len(rejected),
                submitted_at=None if held else now,
                next_attempt_at=now + _held_wait() if held else None,
                last_error=submission.reason,
                progress={},
                lease_until=None,
                lease_token="",
            )
            changes = {"consecutive_errors": 0, "updated_at": now}
            if not held:  # tracking polls it from now on, unless a poll is planned already
                changes["next_poll_at"] = Coalesce(
                    "next_poll_at", Value(now, output_field=DateTimeField())
                )
            if held:  # nothing else goes out before the provider launches this one
                changes |= {
                    "status_reason": submission.reason,
                    "next_attempt_at": now + _held_wait(),
                }
            elif _paced_by_crier(self.campaign, self.account):
                # The next batch is due one interval after this one was: a late tick is made
                # up (never by more than one interval), so the average rate is the one asked.
                _size, interval = pace(self.campaign)
                due = self.campaign.next_attempt_at or now
                changes["next_attempt_at"] = max(due, now - interval) + interval
            Campaign.objects.filter(pk=self.campaign.pk).update(**changes)
            failover.answered(self.campaign, self.account)
            stopped = CampaignStatus.CANCELLED
            if Campaign.objects.filter(pk=self.campaign.pk, status=stopped).exists():
                # Stopped while this batch was on its way: ask the provider to stop it too.
                enqueue("campaigns.tasks.stop_provider_side", self.campaign.pk)
        return "held" if held else "submitted"

    def _failed_call(self, error: ProviderError, *, nothing_sent: bool) -> str:
        """A call that raised. ``nothing_sent``: the batch goes back to waiting (its messages
        are untouched at the provider); otherwise it stays unknown until looked up."""
        waiting = BatchStatus.CLAIMED if nothing_sent else BatchStatus.UNKNOWN
        failed_over = self._failed_over(error)
        if failed_over and failover.movable(self.batch, nothing_sent=nothing_sent):
            return self._move_to_backup()
        if failed_over and isinstance(error, (InsufficientFunds, AuthError)):
            # The backup goes on: the old primary's batch is looked up again later, as after
            # a temporary error, and the campaign is not paused for it.
            error = TemporaryError(str(error))
        if isinstance(error, RateLimited):
            wait = backoff(self.batch.attempts, at_least=error.retry_after or 1.0)
            self._retry_later(waiting, error, wait, campaign_waits=True)
            return "rate limited"
        if isinstance(error, TemporaryError):
            attempts = self.batch.attempts + 1
            if attempts < settings.CRIER_SEND_MAX_ATTEMPTS:
                self._retry_later(
                    waiting,
                    error,
                    backoff(attempts),
                    attempts=attempts,
                    campaign_waits=not failed_over,  # the backup need not wait for it
                )
                return "retrying"
            if not nothing_sent:
                label = self.account.adapter_class.label
                return self._unknown_for_good(_could_not_check(label, error))
            last = str(error).replace(" Crier will try again.", "")  # it has stopped trying
            return self._fail(
                error, f"Gave up after {attempts} {pluralize(attempts, 'try,tries')}: {last}"
            )
        if isinstance(error, (InsufficientFunds, AuthError)):
            # A paused or stopped campaign's lookup refused so is asked again after a backoff:
            # pausing it again changes nothing, and at once would be a loop on the provider.
            stopped = self.campaign.status in LOOKING_UP
            self._retry_later(waiting, error, backoff(self.batch.attempts + 1) if stopped else 0)
            account = self.account if isinstance(error, AuthError) else None
            _pause(self.campaign, str(error), account=account)
            return "paused"
        if not nothing_sent:
            label = self.account.adapter_class.label
            return self._unknown_for_good(_could_not_check(label, error))
        return self._fail(error, str(error))

    def _failed_over(self, error: ProviderError) -> bool:
        """Whether the campaign has failed over away from this batch's account, counting this
        error towards the rule (campaigns.sending.failover)."""
        if isinstance(error, (InsufficientFunds, AuthError)):
            return failover.account_error(self.campaign, self.account, error)
        if isinstance(error, TemporaryError):
            return failover.temporary_error(self.campaign, self.account, error)
        return False

    def _held_fails_over(self, submission: Submission) -> bool:
        """The provider holds the batch unlaunched (``launched=False``: its balance or credits
        do not cover it): an account out of funds, which trips the failover rule like a
        refusal for funds would (campaigns.sending.failover). True when the campaign has
        failed over away from this batch's account."""
        if submission.launched:
            return False
        error = InsufficientFunds(
            "The account's balance or credits do not cover a batch: created there, not launched."
        )
        return failover.account_error(self.campaign, self.account, error)

    def _withdraw_to_backup(self, adapter: ProviderAdapter, submission=None) -> str:
        """The campaign failed over and the primary holds this batch unlaunched, its fate
        known: it is withdrawn there where the provider allows (else it stays unlaunched, and
        Crier never launches it: the campaign page names it for a person to delete), and its
        messages go to the backup under new references. A withdrawal the provider refuses
        leaves the batch held, to be tried again; nothing moves then."""
        remote_id = submission.provider_campaign_id if submission else ""
        remote_id = remote_id or self.batch.provider_campaign_id
        label = self.account.adapter_class.label
        if self.account.adapter_class.capabilities.delete_before_start:
            try:
                adapter.delete(remote_id)
            except ProviderError as error:
                logger.warning("Batch %s: could not withdraw it: %s", self.batch.pk, error)
                if submission is not None:
                    return self._record(submission)
                self._retry_later(BatchStatus.HELD, error, _held_wait().total_seconds())
                return "held"
            left = f"Crier withdrew its campaign {remote_id} there."
        else:
            left = (
                f"{label}'s API cannot delete its campaign {remote_id}: delete it in "
                f"{label}'s panel so that it is never launched."
            )
        self._update(status=BatchStatus.HELD, provider_campaign_id=remote_id)
        why = f"{label} held these {{moved}} messages unlaunched: moved to the backup. {left}"
        return self._move_to_backup(why)

    def _move_to_backup(self, why: str = "") -> str:
        """The campaign failed over and the primary certainly never took this batch (or holds
        it unlaunched: ``why``, with ``{moved}`` for the count): its messages go to the backup
        under new references, and the batch closes empty."""
        with transaction.atomic():
            if not self._mine().select_for_update().exists():
                return "lost lease"
            unsent = Message.objects.filter(batch=self.batch)
            moved = failover.move(self.campaign, unsent, MessageStatus.SUBMITTING)
            label = self.account.adapter_class.label
            why = why or f"{label} never took these {{moved}} messages: moved to the backup."
            self._update(
                status=BatchStatus.CANCELLED,
                size=0,
                last_error=why.format(moved=moved),
                next_attempt_at=None,
                lease_until=None,
                lease_token="",
            )
        return "moved to backup"

    def _retry_later(self, status, error, wait: float, *, attempts=None, campaign_waits=False):
        when = timezone.now() + timedelta(seconds=wait)
        self._update(
            status=status,
            attempts=self.batch.attempts if attempts is None else attempts,
            next_attempt_at=when,
            last_error=str(error),
            lease_until=None,
            lease_token="",
        )
        if campaign_waits:  # the provider is refusing: no other batch goes before this one
            Campaign.objects.filter(pk=self.campaign.pk).update(next_attempt_at=when)

    def _fail(self, error: ProviderError, reason: str) -> str:
        """The provider refused the batch: its messages failed, and may be retried by hand."""
        with transaction.atomic():
            status_events.update(
                self.campaign.workspace_id,
                Message.objects.filter(batch=self.batch, status=MessageStatus.SUBMITTING),
                status=MessageStatus.FAILED,
                error_code=(error.code or type(error).__name__)[:32],
                error_reason=reason[:255],
                updated_at=timezone.now(),
            )
            self._update(status=BatchStatus.FAILED, last_error=reason, progress={}, lease_token="")
            errors = Campaign.objects.filter(pk=self.campaign.pk)
            errors.update(consecutive_errors=F("consecutive_errors") + 1)
        in_a_row = Campaign.objects.values_list("consecutive_errors", flat=True).get(
            pk=self.campaign.pk
        )
        if in_a_row >= settings.CRIER_SEND_PAUSE_AFTER_ERRORS:
            _pause(self.campaign, f"{in_a_row} batches failed in a row. The last: {reason}")
        return "failed"

    def _unknown_for_good(self, reason: str) -> str:
        """Crier cannot tell whether the provider took the batch: its messages are left
        ``unknown`` with why, for a person to check; they are never sent again by Crier."""
        with transaction.atomic():
            status_events.update(
                self.campaign.workspace_id,
                Message.objects.filter(batch=self.batch, status=MessageStatus.SUBMITTING),
                status=MessageStatus.UNKNOWN,
                error_code="unconfirmed",
                error_reason=reason[:255],
                updated_at=timezone.now(),
            )
            self._update(status=BatchStatus.FAILED, last_error=reason, lease_token="")
        return "unknown"

    # --- Lease helpers ---

    def _mine(self):
        return Batch.objects.filter(pk=self.batch.pk, lease_token=self.token)

    def _update(self, **changes) -> None:
        self._mine().update(**changes, updated_at=timezone.now())
        for name, value in changes.items():
            setattr(self.batch, name, value)


def _cannot_look_up(provider: str) -> str:
    return (
        f"{provider} did not confirm whether it took these messages and offers no way to "
        "look them up. Crier will not send them again: check them at the provider."
    )


def _said_it_has_them(provider: str) -> str:
    return (
        f"{provider} said it already had these messages, but Crier could not find them there. "
        "Crier will not send them again: check them at the provider."
    )


def _could_not_check(provider: str, error: ProviderError) -> str:
    return (
        f"{provider} may have taken these messages, and Crier could not check ({error}). "
        "Crier will not send them again: check them at the provider."
    )


def _held_wait() -> timedelta:
    return timedelta(seconds=settings.CRIER_SEND_BACKOFF_CAP)


def _lease_end():
    return timezone.now() + timedelta(seconds=lease_seconds())


def _pause(campaign: Campaign, reason: str, *, account: ProviderAccount | None = None) -> None:
    """Pauses a sending campaign with ``reason``; ``account``: the one that refused Crier's
    credentials, which keeps the reason too."""
    if Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.PAUSED,
        status_reason=reason,
        updated_at=timezone.now(),
        next_attempt_at=next_lookup(campaign),
    ):
        status_events.campaign_changed(campaign, EventType.CAMPAIGN_PAUSED)
    if account is not None:
        ProviderAccount.objects.filter(pk=account.pk).update(last_error=reason)


# --- Writing the provider's answer ---------------------------------------------------------

# How often beat hands campaigns out (CELERY_BEAT_SCHEDULE "dispatch-campaigns"): a paced
# campaign's batches are never closer together than this.
PACE_TICK = 2.0
_RESULT_COLUMNS = (
    ("reference", "varchar(32)"),
    ("status", "varchar(12)"),
    ("provider_id", "varchar(64)"),
    ("code", "varchar(32)"),
    ("reason", "varchar(255)"),
)


def _write_results(batch: Batch, accepted, rejected, now) -> None:
    """Accepted messages become queued (with the provider's id), rejected ones rejected.

    A batch accepted whole without ids is one UPDATE; otherwise the results are joined on the
    reference (core.bulk). Must run inside a transaction.
    """
    mine = Message.objects.filter(batch=batch, status=MessageStatus.SUBMITTING)
    if not rejected and not any(r.provider_message_id for r in accepted):
        mine.update(status=MessageStatus.QUEUED, updated_at=now)
        return
    rows = [
        (r.reference, MessageStatus.QUEUED.value, r.provider_message_id, "", "") for r in accepted
    ]
    rows += [
        (r.reference, MessageStatus.REJECTED.value, "", r.error_code[:32], r.reason[:255])
        for r in rejected
    ]
    table = Message._meta.db_table
    join = (
        f"UPDATE {table} SET status = v.status, provider_message_id = v.provider_id, "
        f"error_code = v.code, error_reason = v.reason, updated_at = %s "
        f"FROM {{source}} WHERE {table}.reference = v.reference AND {table}.batch_id = %s "
        f"AND {table}.status = %s"
    )
    bulk.update_from_rows(
        join,
        _RESULT_COLUMNS,
        rows,
        table="crier_results",
        before=[connection.ops.adapt_datetimefield_value(now)],
        after=[batch.pk, MessageStatus.SUBMITTING.value],
    )
