"""Failover: a campaign's messages leave a failing primary account for its backup.

The rule, stated on the campaign (Campaign.failover_*) and shown before launch: the primary
(the campaign's own account) failed over when, since its last answer,

- ``failover_errors`` calls in a row failed temporarily (503, refused connections, lookups
  that could not be made), or
- it has failed for ``failover_minutes`` minutes (every call since the first failure), or
- it refused the campaign for its account (out of balance or credits, credentials refused),
  when ``failover_on_account_error``.

A rate limit is no failure: the provider answered, and Crier waits as told.

Failing over moves, in one transaction with its audit event, every *pending* message of the
primary (never handed over) to the backup under a new reference. A batch whose fate at the
primary is unknown (being submitted, unknown, held by the provider, or partly through a
multi-call submission) stays there and is reconciled through the primary as always; only
what that proves was never taken moves afterwards (``movable`` + ``move``, called by the
engine for each such batch), under new references too. A failover happens once: the backup
has no backup.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.log import record
from audit.models import Action
from campaigns import status_events
from campaigns.models import Batch, Campaign, Message, renew_references
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.errors import ProviderError
from providers.models import ProviderAccount
from webhooks.models import EventType


def away_from(campaign: Campaign, account: ProviderAccount) -> bool:
    """Whether the campaign failed over away from ``account`` (read afresh)."""
    if not campaign.backup_account_id or account.pk != campaign.account_id:
        return False
    return Campaign.objects.filter(pk=campaign.pk, failed_over_at__isnull=False).exists()


def _watched(campaign: Campaign, account: ProviderAccount) -> bool:
    """The rule applies: the account is the primary of a campaign with a backup."""
    return bool(campaign.backup_account_id) and account.pk == campaign.account_id


def temporary_error(campaign: Campaign, account: ProviderAccount, error: ProviderError) -> bool:
    """Counts a temporary failure of ``account``; True when the campaign has failed over away
    from it (now, or before)."""
    if not _watched(campaign, account):
        return False
    now = timezone.now()
    since = Coalesce("primary_failing_since", Value(now, output_field=DateTimeField()))
    mine = Campaign.objects.filter(pk=campaign.pk)
    mine.update(primary_errors=F("primary_errors") + 1, primary_failing_since=since)
    row = mine.values("primary_errors", "primary_failing_since", "failed_over_at").first()
    if row is None or row["failed_over_at"]:
        return row is not None
    label = account.adapter_class.label
    errors, failing = row["primary_errors"], now - row["primary_failing_since"]
    reason = ""
    if campaign.failover_errors and errors >= campaign.failover_errors:
        reason = f"{errors} temporary errors in a row at {label}. The last: {error}"
    elif campaign.failover_minutes and failing >= timedelta(minutes=campaign.failover_minutes):
        minutes = int(failing.total_seconds() // 60)
        reason = f"{label} failed for {minutes} minutes. The last error: {error}"
    return bool(reason) and fail_over(campaign, reason)


def account_error(campaign: Campaign, account: ProviderAccount, error: ProviderError) -> bool:
    """An account error of ``account`` (funds, credentials); True when the campaign has failed
    over away from it (now, or before) instead of pausing."""
    if not _watched(campaign, account):
        return False
    if away_from(campaign, account):
        return True
    if not campaign.failover_on_account_error:
        return False
    return fail_over(campaign, f"{account.adapter_class.label}: {error}")


def answered(campaign: Campaign, account: ProviderAccount) -> None:
    """The primary answered: its failures in a row start again from zero."""
    if _watched(campaign, account):
        Campaign.objects.filter(pk=campaign.pk).filter(
            Q(primary_errors__gt=0) | Q(primary_failing_since__isnull=False)
        ).update(primary_errors=0, primary_failing_since=None)


def fail_over(campaign: Campaign, reason: str) -> bool:
    """Moves the primary's pending messages to the backup, in one transaction with the audit
    event; False when the campaign has no backup. Idempotent: a campaign fails over once."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if locked is None or not locked.backup_account_id:
            return False
        if locked.failed_over_at:
            return True
        moved = move(locked, Message.objects.filter(campaign=campaign))
        now = timezone.now()
        Campaign.objects.filter(pk=campaign.pk).update(
            failed_over_at=now,
            failover_reason=reason,
            next_attempt_at=None,  # the backup goes at once
            updated_at=now,
        )
        record(
            locked.workspace,
            None,
            Action.CAMPAIGN_FAILED_OVER,
            f"campaign {locked}",
            campaign_id=locked.pk,
            primary=locked.account.name,
            backup=locked.backup_account.name,
            moved=moved,
            reason=reason[:500],
        )
        status_events.campaign_changed(
            locked,
            EventType.CAMPAIGN_FAILED_OVER,
            failover={
                "primary": {"id": locked.account_id, "name": locked.account.name},
                "backup": {"id": locked.backup_account_id, "name": locked.backup_account.name},
                "backup_sender": locked.backup_sender or locked.sender,
                "moved": moved,
                "reason": reason[:500],
            },
        )
    campaign.failed_over_at, campaign.failover_reason = now, reason
    return True


def movable(batch: Batch, *, nothing_sent: bool = False) -> bool:
    """A batch the provider certainly never took: still claimed (never sent, or each try
    refused before taking anything, or a lookup proved it was never taken), or its call just
    failed with ``nothing_sent``; with nothing of it at the provider (no campaign created
    there, no call of a multi-call submission through, never called a duplicate)."""
    return (
        (batch.status == BatchStatus.CLAIMED or nothing_sent)
        and not batch.progress
        and not batch.provider_campaign_id
        and not batch.provider_has_it
    )


def move(campaign: Campaign, messages, status: str = MessageStatus.PENDING) -> int:
    """``messages`` of ``campaign`` in ``status`` that go through its primary become pending
    on the backup (account and sender name), each under a new reference (the primary may
    know the old one), out of any batch. The conditions are checked again by each UPDATE, so
    a message claimed meanwhile stays where it is. Must run inside a transaction. Returns how
    many moved."""
    primary_id = campaign.account_id
    # A message without an account of its own whose country the cheapest route sends through
    # another account is not the primary's (the claim names that account when it takes it).
    elsewhere = sorted(campaign.routed_countries())
    own = Q(account__isnull=True) & ~Q(country__in=elsewhere) if elsewhere else Q(account=None)
    primary = own | Q(account_id=primary_id)
    ids = list(messages.filter(primary, status=status).values_list("pk", flat=True))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    changes = "account_id = %s, sender = %s, status = %s, batch_id = NULL, updated_at = %s"
    sender = campaign.backup_sender or campaign.sender
    params = [campaign.backup_account_id, sender, MessageStatus.PENDING.value, now]
    not_elsewhere = (
        f" AND country NOT IN ({', '.join(['%s'] * len(elsewhere))})" if elsewhere else ""
    )
    condition = f"status = %s AND ((account_id IS NULL{not_elsewhere}) OR account_id = %s)"
    checks = [status, *elsewhere, primary_id]
    moved = 0
    for chunk, changed in renew_references(ids, changes, params, condition, *checks):
        moved += changed
        done = Message.objects.filter(pk__in=chunk, account_id=campaign.backup_account_id)
        status_events.report(campaign.workspace_id, done)
    return moved


def rule(campaign: Campaign, routes: list[dict] | None = None) -> str:
    """The rule in words, for the compose step, the preview, the launch page and the campaign
    page ("" when the campaign has no backup). ``routes``: the cheapest route's split
    (pricing.route_summary's, or as frozen in Campaign.estimate, which is read when not
    given); the countries it sends through another account never fail over (``move``), and
    the rule says so."""
    backup = campaign.backup_account
    if backup is None:
        return ""
    conditions = []
    if campaign.failover_errors:
        conditions.append(f"after {campaign.failover_errors} temporary errors in a row")
    if campaign.failover_minutes:
        conditions.append(f"after {campaign.failover_minutes} minutes of failing")
    if campaign.failover_on_account_error:
        conditions.append("at once when out of balance or credentials are refused")
    when = ", or ".join(conditions)
    sender = campaign.backup_sender or campaign.sender
    as_sender = f" as “{sender}”" if sender else ""
    primary = campaign.account.name if campaign.account else "the account"
    return (
        f"If {primary} fails ({when}), the messages not yet handed over move to {backup.name} "
        f"({backup.get_provider_display()}){as_sender}, under new references; those "
        f"{primary} may have taken stay with it until Crier has checked."
    ) + _routed_apart(campaign, routes)


# Said where the split is not known yet (a draft whose price is still being worked out).
ROUTED_APART = (
    "With the cheapest route, the countries it sends through another account stay on their "
    "route: they do not fail over."
)


def _routed_apart(campaign: Campaign, routes: list[dict] | None) -> str:
    if routes is None:
        routes = (campaign.estimate or {}).get("routes")
        if routes is None and campaign.cheapest_route and campaign.status == CampaignStatus.DRAFT:
            return " " + ROUTED_APART
    elsewhere: dict[str, list[str]] = {}
    for route in routes or []:
        if route.get("account"):
            elsewhere.setdefault(route["account_name"], []).append(route["country"] or "?")
    if not elsewhere:
        return ""
    ways = "; ".join(
        f"{', '.join(countries)} through {name}" for name, countries in sorted(elsewhere.items())
    )
    return (
        f" The cheapest route sends {ways}: those messages stay on their route and do not "
        "fail over."
    )
