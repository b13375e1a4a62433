"""Poll -> monotonic status update -> counters -> snapshot -> completion.

The beat task (``poll_due``) hands each campaign in flight whose ``next_poll_at`` has come to a
worker under a lease (``poll_lease_until``), so one poll runs per campaign at a time and a tick
that finds it leased skips it instead of queueing another. ``poll`` asks the provider about
every ``Batch`` not yet final, at the provider's own interval
(``Capabilities.poll_interval``):

- the batch's statistics (counters, status, actual cost), where the provider has them;
- per-message statuses, where it has them (BSG lists a campaign's messages with our
  references; Mobizon answers GetSMSStatus for 100 of its ids a call), fetched only when the
  provider's counters differ from ours;
- where it has none (smsdrop: a delivery percentage only), or for messages it cannot name
  (Mobizon ids lost to a reconciliation), the counters are spread over our messages, highest
  ranked first (``derive``), per docs/provider-status-map.md.

Statuses only move forward (``statuses.RANK``): queued < sent < unknown < a final outcome. A final
outcome never changes, so a repeated or late report changes nothing. The counters follow by
database triggers (migration 0007); this module only writes the summed actual cost, and a
CounterSnapshot whenever the figures moved.

A batch is final when none of its messages is open (an "unknown" counts as closed only once
the provider calls the batch done), or when the provider calls it done and the validity plus
CRIER_POLL_SETTLE_SECONDS have passed (what is still open becomes "unknown"). A provider that
reports nothing at all (Conpeek) is waited out for CRIER_POLL_UNTRACKED_SECONDS. A ``sent``
campaign whose batches are all final is ``completed`` and no longer polled.

Longer than 400 lines because poll, status update, counters, snapshot and completion are one
pass over a campaign in flight, each step reading what the one before wrote.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from campaigns import status_events
from campaigns.models import (
    COUNTED_STATUSES,
    Batch,
    Campaign,
    CampaignCounters,
    CounterSnapshot,
    Message,
    by_account,
)
from campaigns.tracking import costs
from core import bulk, statuses
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.base import Capabilities, MessageStatusReport, ProviderAdapter, RemoteStats
from providers.errors import ProviderError, RateLimited
from providers.models import ProviderAccount
from webhooks.models import EventType

logger = logging.getLogger(__name__)

# Batches out at the provider keep delivering whatever happens to the campaign afterwards, so a
# paused or stopped campaign is polled until its batches are final (it is never "completed").
POLLED = (
    CampaignStatus.SENDING,
    CampaignStatus.SENT,
    CampaignStatus.PAUSED,
    CampaignStatus.CANCELLED,
)
CLOSED_REASON = "No delivery report came from the provider before the campaign closed."
_CHUNK = 1000
# Short links' clicks are asked for at most this often per batch, and once more as it ends.
LINKS_EVERY = timedelta(minutes=5)
# Something a provider could have shortened: a URL, or a domain followed by a path.
_LINK = re.compile(r"https?://|www\.|\b[\w-]+\.[a-z]{2,}/\S", re.IGNORECASE)


# --- Beat and task ---------------------------------------------------------------------------


def poll_due(enqueue: Callable[[int], object]) -> dict:
    """The beat task's work: lease every campaign in flight whose poll is due and hand its id
    to ``enqueue``. A campaign still leased (its last poll is running) is skipped."""
    now = timezone.now()
    due = Campaign.objects.filter(status__in=POLLED, next_poll_at__lte=now).filter(_free(now))
    handed_out = 0
    for pk in due.order_by("next_poll_at").values_list("pk", flat=True)[:500]:
        if take_lease(pk):
            enqueue(pk)
            handed_out += 1
    return {"handed_out": handed_out}


def take_lease(campaign_id: int) -> bool:
    """Makes the next poll of the campaign ours; False when a poll holds it already."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.CRIER_POLL_LEASE_SECONDS)
    return bool(Campaign.objects.filter(_free(now), pk=campaign_id).update(poll_lease_until=lease))


def release(campaign_id: int) -> None:
    Campaign.objects.filter(pk=campaign_id).update(poll_lease_until=None)


def run(campaign_id: int) -> dict:
    """The task's work, under the lease ``poll_due`` took: poll, then free the campaign."""
    try:
        campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
        if campaign is None or campaign.status not in POLLED or campaign.account is None:
            return {"campaign": campaign_id, "skipped": "not in flight"}
        try:
            return poll(campaign)
        except Exception:
            # Not every tick: a bug or an outage should not turn into a poll every 2 s.
            later = timezone.now() + interval(campaign.account.adapter_class.capabilities)
            Campaign.objects.filter(pk=campaign_id).update(next_poll_at=later)
            raise
    finally:
        release(campaign_id)


def _free(now: datetime) -> Q:
    return Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now)


def interval(capabilities: Capabilities) -> timedelta:
    if settings.CRIER_POLL_INTERVAL > 0:
        return timedelta(seconds=settings.CRIER_POLL_INTERVAL)
    return capabilities.poll_interval


# --- One poll --------------------------------------------------------------------------------


def poll(campaign: Campaign) -> dict:
    """Polls every batch of ``campaign`` that is not final, applies what changed, sums the
    actual cost, writes a snapshot if the figures moved, completes the campaign when it is
    done and sets ``next_poll_at`` (None once nothing is left to poll). The caller holds the
    campaign's poll lease (``take_lease``); a provider error on one batch is counted in the
    summary and that batch is asked again next time.

    Every batch is asked first and the per-message reports of all of them are applied in one
    UPDATE, in one transaction: cheaper than one a batch, and one lock of the counters row."""
    now = timezone.now()
    summary = Counter(changed=0, batches=0, errors=0, final=0)
    batches = campaign.batches.filter(status=BatchStatus.SUBMITTED, final=False)
    routes = by_account(campaign, batches)
    waits, answers = [], []
    for account, its_batches in routes.items():
        wait = interval(account.adapter_class.capabilities)
        if (quiet := account.quiet_left()) or _sender_only(account, now):
            waits.append((quiet or now + wait) - now)
            summary["quiet"] += 1
            continue
        wait = _ask_all(account, its_batches, answers, summary) or wait
        waits.append(wait)
    if routes and summary["quiet"] == len(routes):
        later = now + min(waits)
        Campaign.objects.filter(pk=campaign.pk).update(next_poll_at=later)
        campaign.next_poll_at = later
        return {"campaign": campaign.pk, **summary}
    wait = min(waits, default=interval(campaign.account.adapter_class.capabilities))
    summary["changed"] += apply_statuses(campaign, (r for a in answers for r in a.reports))
    for answer in answers:
        capabilities = answer.account.adapter_class.capabilities
        summary["changed"] += settle(campaign, answer, capabilities, now)
        summary["final"] += answer.batch.final
    for account in routes:
        done = [a.batch for a in answers if a.account == account]
        summary["links"] += refresh_links(campaign, done, now, account)
    sum_cost(campaign)
    summary["snapshot"] = int(snapshot_if_changed(campaign, now))
    completed = complete_if_done(campaign, now)
    if completed:
        status_events.campaign_changed(campaign, EventType.CAMPAIGN_COMPLETED)
    summary["completed"] = int(completed)
    next_poll = None if completed or not _still_polled(campaign) else timezone.now() + wait
    Campaign.objects.filter(pk=campaign.pk).update(next_poll_at=next_poll, last_polled_at=now)
    campaign.next_poll_at, campaign.last_polled_at = next_poll, now
    return {"campaign": campaign.pk, **summary}


def _ask_all(
    account: ProviderAccount, batches: list[Batch], answers: list, summary: Counter
) -> timedelta | None:
    """Asks ``account``'s provider about each of its batches, onto ``answers``; returns how
    long to wait when the provider asked Crier to stand back (None otherwise)."""
    with account.adapter() as adapter:
        for batch in batches:
            summary["batches"] += 1
            try:
                answer = ask(batch, adapter)
            except ProviderError as error:
                summary["errors"] += 1
                logger.warning("Polling batch %s failed: %s", batch.pk, error)
                if isinstance(error, RateLimited) and error.retry_after:
                    wait = interval(account.adapter_class.capabilities)
                    # nothing more goes to the provider before the quiet ends
                    return max(wait, timedelta(seconds=error.retry_after))
            else:
                answer.account = account
                answers.append(answer)
    return None


def refresh_links(
    campaign: Campaign, batches: list[Batch], now: datetime, account: ProviderAccount | None = None
) -> int:
    """Stores the short links of each batch with their clicks, where the provider counts them
    and the text has a link: every LINKS_EVERY, and once more when the batch turns final.
    ``batches`` went through ``account`` (default: the campaign's). Returns how many batches
    were asked; a provider error leaves the last counts shown and the rest for the next
    poll."""
    account = account or campaign.account
    if not account.adapter_class.capabilities.short_links:
        return 0
    if campaign.channel != "sms" or not _LINK.search(campaign.text):
        return 0
    due = [
        d
        for d in batches
        if d.provider_campaign_id
        and (d.final or d.links_checked_at is None or now - d.links_checked_at >= LINKS_EVERY)
    ]
    if not due:
        return 0
    asked = 0
    with account.adapter() as adapter:
        for batch in due:
            try:
                links = [asdict(link) for link in adapter.links(batch.provider_campaign_id)]
            except ProviderError as error:
                logger.warning("Short links of batch %s: %s", batch.pk, error)
                break  # asked again next poll
            Batch.objects.filter(pk=batch.pk).update(links=links, links_checked_at=now)
            asked += 1
    return asked


def _sender_only(account, now: datetime) -> bool:
    """An account the provider rate-limited in the last minute gets one caller at a time:
    polling stands back while a worker is sending on it. Two processes cannot both keep to a
    Retry-After one of them has just been given without a lock around every request."""
    limited = account.quiet_until and account.quiet_until > now - timedelta(minutes=1)
    if not limited:
        return False
    return Campaign.objects.filter(
        account=account, status=CampaignStatus.SENDING, lease_until__gt=now
    ).exists()


@dataclass
class Answer:
    """What the provider said about one batch."""

    batch: Batch
    stats: RemoteStats | None
    reports: list[MessageStatusReport]
    account: ProviderAccount | None = None  # the account asked (the batch's route)


def ask(batch: Batch, adapter: ProviderAdapter) -> Answer:
    """The batch's statistics, where the provider keeps them, and its per-message statuses
    where it gives them and its counters differ from ours (nothing moved: nothing to fetch)."""
    capabilities = adapter.capabilities
    remote_id = batch.provider_campaign_id
    stats = adapter.campaign_stats(remote_id) if capabilities.campaign_stats and remote_id else None
    reports: list[MessageStatusReport] = []
    wanted = stats is None or _differs(_counts(batch), stats)
    if capabilities.message_status and remote_id and wanted:
        ids = _tracked(batch).exclude(provider_message_id="")
        ids = list(ids.values_list("provider_message_id", flat=True))
        reports = adapter.message_statuses(remote_id, ids)
    return Answer(batch, stats, reports)


def settle(campaign: Campaign, answer: Answer, capabilities: Capabilities, now: datetime) -> int:
    """After the reports were applied: derives what the provider could not say message by
    message, records the batch's cost and status, and decides whether it is final. Returns how
    many messages changed."""
    batch, stats = answer.batch, answer.stats
    counts = _counts(batch)
    changed = 0
    if stats is not None and _differs(counts, stats):
        # What the provider cannot name message by message: all of them where it has no
        # per-message status, else those without its id that it did not report by reference.
        among = _tracked(batch)
        if capabilities.message_status:
            among = among.filter(provider_message_id="")
        reported = {r.reference for r in answer.reports if r.reference}
        derived = derive(batch, stats, among, counts, skip=reported)
        if applied := apply_statuses(campaign, derived):
            changed, counts = applied, _counts(batch)
    if stats is not None:
        batch.cost = stats.cost if stats.cost is not None else batch.cost
        batch.currency = (stats.currency or batch.currency).upper()  # "eur" is "EUR"
        if stats.campaign_status != "unknown":
            batch.remote_status = stats.campaign_status
    elif costs := [r.cost for r in answer.reports if r.cost is not None]:
        batch.cost = sum(costs, Decimal(0))
        batch.currency = next((r.currency for r in answer.reports if r.currency), "").upper()
    changed += _finish(campaign, batch, capabilities, stats, counts, now)
    batch.polled_at = now
    Batch.objects.filter(pk=batch.pk).update(
        polled_at=now,
        final=batch.final,
        cost=batch.cost,
        currency=batch.currency,
        remote_status=batch.remote_status,
        updated_at=now,
    )
    return changed


def _tracked(batch: Batch):
    return Message.objects.filter(batch=batch, status__in=statuses.TRACKED)


def _counts(batch: Batch) -> Counter:
    """The batch's messages per status; the ones it refused at submission are ours alone, so
    they are left out of "rejected" to compare with the provider's counters."""
    rows = Message.objects.filter(batch=batch).values_list("status").annotate(n=Count("pk"))
    counts = Counter(dict(rows))
    counts["rejected"] -= batch.rejected
    return counts


def _differs(counts: Counter, stats: RemoteStats) -> bool:
    return any(stats.counters.get(status, 0) != counts[status] for status in statuses.RANK)


def derive(
    batch: Batch, stats: RemoteStats, among, counts: Counter, skip: set[str] = frozenset()
) -> list[MessageStatusReport]:
    """Reports that make our ``counts`` of the batch match the provider's counters, spreading
    them over the messages ``among`` (its open ones the provider cannot name; ``skip``: the
    references it did report): the most advanced messages take the most advanced statuses,
    oldest first. Which message is "the delivered one" is arbitrary, the figures are not; and
    as a report never moves a message back, a message given an outcome keeps it."""
    candidates = [c for c in among.values_list("pk", "reference", "status") if c[1] not in skip]
    if not candidates:
        return []
    fixed = counts.copy()
    fixed.subtract(Counter(status for _pk, _ref, status in candidates))
    wanted: list[str] = []
    for status in sorted(
        statuses.RANK, key=statuses.RANK.get, reverse=True
    ):  # finals, unknown, sent, queued
        wanted += [status] * max(0, stats.counters.get(status, 0) - fixed[status])
    candidates.sort(key=lambda c: (-statuses.RANK[c[2]], c[0]))
    final = stats.finished
    return [
        MessageStatusReport(status=status, raw_status="", final=final, reference=reference)
        for (_pk, reference, current), status in zip(candidates, wanted, strict=False)
        if statuses.RANK[status] > statuses.RANK[current]
    ]


def _finish(campaign, batch, capabilities, stats, counts, now) -> int:
    """Marks the batch final when it is; returns the messages closed as unknown."""
    still_open = sum(counts[s] for s in (*statuses.OPEN, *statuses.PENDING))
    tracked = capabilities.campaign_stats or capabilities.message_status
    done = stats.finished if stats is not None else not tracked
    if not still_open and (not counts["unknown"] or done):
        batch.final = True
        return 0
    started = batch.submitted_at or batch.created_at
    if tracked:
        window = _validity(campaign, capabilities)
        window += timedelta(seconds=settings.CRIER_POLL_SETTLE_SECONDS)
    else:
        window = timedelta(seconds=settings.CRIER_POLL_UNTRACKED_SECONDS)
    give_up = window + timedelta(seconds=settings.CRIER_POLL_GIVE_UP_SECONDS)
    if (done and now >= started + window) or now >= started + give_up:
        batch.final = True
        return _close(campaign, batch, now)
    return 0


def _validity(campaign: Campaign, capabilities: Capabilities) -> timedelta:
    if campaign.validity_minutes:
        return timedelta(minutes=campaign.validity_minutes)
    if capabilities.max_validity:  # what a provider applies when it is given none
        return capabilities.max_validity
    return timedelta(seconds=settings.CRIER_POLL_DEFAULT_VALIDITY)


def _close(campaign: Campaign, batch: Batch, now: datetime) -> int:
    """What is still open in a batch past its window will never be reported: unknown."""
    return status_events.update(
        campaign.workspace_id,
        Message.objects.filter(batch=batch, status__in=statuses.OPEN),
        status=MessageStatus.UNKNOWN,
        error_reason=CLOSED_REASON,
        updated_at=now,
    )


# --- Applying reports ------------------------------------------------------------------------


def apply_statuses(campaign: Campaign, reports: Iterable[MessageStatusReport]) -> int:
    """Applies per-message reports to ``campaign``'s messages in bulk and returns how many
    messages changed. A report names its message by our reference when it carries one (unique
    forever), else by the provider's message id; one naming no message of the campaign is
    ignored. A message moves only to a higher rank, so repeated, late and out-of-order reports
    change nothing; of several reports on one message the most advanced wins (the first of
    equals). Status, raw status and updated_at are set, and the provider's error code and
    reason where the report gives them (a report without one keeps the reason already stored);
    the counters follow by trigger."""
    by_reference: dict[str, tuple] = {}
    by_id: dict[str, tuple] = {}
    for report in reports:
        rank = statuses.RANK.get(report.status)
        if rank is None:
            continue
        if report.reference:
            key, rows = report.reference, by_reference
        elif report.provider_message_id:
            key, rows = report.provider_message_id, by_id
        else:
            continue
        if key not in rows or rows[key][3] < rank:
            raw, code = (report.raw_status or "")[:24], (report.error_code or "")[:32]
            rows[key] = (key, report.status, raw, rank, code, (report.error_reason or "")[:255])
    changed = 0
    # One UPDATE a transaction: the counters trigger locks the campaign's counters row, which
    # the sending engine updates too.
    for column, rows in (("reference", by_reference), ("provider_message_id", by_id)):
        if rows:
            with transaction.atomic():
                changed += _update(campaign, column, list(rows.values()))
    return changed


_COLUMNS = (
    ("key", "varchar(64)"),
    ("status", "varchar(12)"),
    ("raw", "varchar(24)"),
    ("rank", "smallint"),
    ("code", "varchar(32)"),
    ("reason", "varchar(255)"),
)


def _update(campaign: Campaign, column: str, rows: list[tuple]) -> int:
    """One UPDATE joining the reports on ``column`` (core.bulk: on PostgreSQL an index nested
    loop over a COPYed temporary table, ~100k rows/s against 3-13k with VALUES lists). Must
    run inside a transaction. When a webhook listens, the UPDATE returns the messages it
    changed, for one event per thousand (campaigns.status_events)."""
    table = Message._meta.db_table
    stamp = timezone.now()
    listening = status_events.listening(campaign.workspace_id)
    ranks = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in statuses.RANK.items())
    current = f"CASE {table}.status {ranks} ELSE 99 END"  # 99: our own, never touched
    join = (
        f"UPDATE {table} SET status = v.status, raw_status = v.raw, updated_at = %s, "
        f"error_code = CASE WHEN v.code <> '' THEN v.code ELSE {table}.error_code END, "
        f"error_reason = CASE WHEN v.reason <> '' THEN v.reason ELSE {table}.error_reason END "
        f"FROM {{source}} WHERE {table}.{column} = v.key AND {table}.campaign_id = %s "
        f"AND v.rank > {current}"
    )
    if column == "provider_message_id":  # lets the planner use the partial index
        join += f" AND {table}.provider_message_id <> ''"
    changed = bulk.update_from_rows(
        join,
        _COLUMNS,
        rows,
        table="crier_status_reports",
        before=[connection.ops.adapt_datetimefield_value(stamp)],
        after=[campaign.pk],
        chunk=_CHUNK,
        # Each report finds its message through a unique index. Left to itself, the planner
        # hashes the reports and walks every message of a big campaign instead: a million rows
        # read for 100,000 reports (3.7 s against 2.5 s in bench/dashboard.py). With hash and
        # merge joins off that nested loop is its only sane plan, so the reports are not
        # analysed first (their ANALYZE took 60 ms of a 100,000-report poll, load 2.5).
        analyse=False,
        hints=[
            "SET LOCAL random_page_cost = 1.1",
            "SET LOCAL jit = off",
            "SET LOCAL enable_hashjoin = off",
            "SET LOCAL enable_mergejoin = off",
        ],
        returning=", ".join(f"{table}.{c}" for c in status_events.COLUMNS) if listening else "",
    )
    if not listening:
        return changed
    status_events.report_rows(campaign, changed, stamp)
    return len(changed)


# --- Figures and completion ------------------------------------------------------------------


def sum_cost(campaign: Campaign) -> None:
    """The actual cost the provider reported for the campaign's batches, onto its counters.
    Left alone while nothing is reported; None when the batches were billed in several
    currencies, as no one figure is true then (the campaign page shows each, and says whether
    the sum is partial: campaigns.tracking.costs)."""
    bill = costs.billing(campaign)
    if not bill.reported:
        return
    stated = [currency for currency in bill.amounts if currency]
    total = sum(bill.amounts.values(), Decimal(0)) if len(stated) <= 1 else None
    currency = stated[0] if len(stated) == 1 else ""
    counters = CampaignCounters.objects.filter(campaign=campaign)
    if not counters.filter(cost=total, currency=currency).exists():
        counters.update(cost=total, currency=currency)


def snapshot_if_changed(campaign: Campaign, now: datetime | None = None) -> bool:
    """Writes a CounterSnapshot when the counters or the cost differ from the last one (or
    there is none yet: the chart's starting point). Returns whether it wrote one."""
    counters = CampaignCounters.objects.filter(campaign=campaign).first()
    counts = counters.as_dict() if counters else dict.fromkeys(COUNTED_STATUSES, 0)
    cost = counters.cost if counters else None
    last = campaign.snapshots.order_by("-taken_at", "-pk").first()
    if last is not None and last.counts == counts and last.cost == cost:
        return False
    CounterSnapshot.objects.create(
        campaign=campaign, taken_at=now or timezone.now(), counts=counts, cost=cost
    )
    return True


def complete_if_done(campaign: Campaign, now: datetime) -> bool:
    """A ``sent`` campaign whose batches are all final, with no message still open, becomes
    ``completed``."""
    if campaign.batches.exclude(status__in=_CLOSED_BATCHES).exists():
        return False
    if campaign.batches.filter(status=BatchStatus.SUBMITTED, final=False).exists():
        return False
    counters = CampaignCounters.objects.filter(campaign=campaign).first()
    if counters and counters.pending + counters.submitting + counters.queued + counters.sent:
        return False
    completed = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENT).update(
        status=CampaignStatus.COMPLETED, completed_at=now, next_poll_at=None, updated_at=now
    )
    if completed:
        campaign.status, campaign.completed_at = CampaignStatus.COMPLETED, now
    return bool(completed)


_CLOSED_BATCHES = (BatchStatus.SUBMITTED, BatchStatus.FAILED, BatchStatus.CANCELLED)


def _still_polled(campaign: Campaign) -> bool:
    """Sending and sent campaigns are polled until completed; a paused or stopped one while
    some batch of it is out and not final."""
    status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
    if status in (CampaignStatus.SENDING, CampaignStatus.SENT):
        return True
    if status not in POLLED:
        return False
    return campaign.batches.filter(status=BatchStatus.SUBMITTED, final=False).exists()
