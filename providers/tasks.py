"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Exists, F, OuterRef

from core.crypto import CredentialsUnreadable
from providers import services
from providers.errors import ProviderError
from providers.models import ProviderAccount, SenderName

# At most this many accounts are asked about their sender names per run, those asked longest
# ago first; the rest wait for the next run.
SENDER_REFRESH_LIMIT = 500


def _checkable():
    """Active accounts whose provider can report its balance and sender names."""
    accounts = ProviderAccount.objects.filter(is_active=True).only("pk", "provider")
    return [a.pk for a in accounts if a.adapter_class.capabilities.account_info]


def _check(account_id: int, then=None) -> dict:
    """Checks the connection (recording the balance, or the error on the account), then runs
    ``then(account, info)`` and adds its result to the summary."""
    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return {"account": account_id, "skipped": "gone or disabled"}
    try:
        info = services.check_connection(account)
    except (ProviderError, CredentialsUnreadable) as exc:
        return {"account": account_id, "error": exc.__class__.__name__}
    summary = {"account": account_id, "balance": str(account.balance)}
    if then is not None:
        summary["changed"] = then(account, info)
    return summary


@shared_task
def refresh_account(account_id: int) -> dict:
    return _check(account_id)


@shared_task
def refresh_balances() -> dict:
    """Periodic: queue a balance check for every active account."""
    ids = _checkable()
    for account_id in ids:
        refresh_account.delay_on_commit(account_id)
    return {"queued": len(ids)}


@shared_task(soft_time_limit=300)
def refresh_account_senders(account_id: int) -> dict:
    """The approval status of the account's sender names, as the provider reports it now."""
    return _check(account_id, services.refresh_sender_statuses)


@shared_task
def refresh_sender_names() -> dict:
    """Periodic: queue a sender-name refresh for the accounts that have sender names, at most
    SENDER_REFRESH_LIMIT of them, those checked longest ago first."""
    checkable = _checkable()
    ids = list(
        ProviderAccount.objects.filter(pk__in=checkable)
        .filter(Exists(SenderName.objects.filter(account=OuterRef("pk"))))
        .order_by(F("balance_checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:SENDER_REFRESH_LIMIT]
    )
    for account_id in ids:
        refresh_account_senders.delay_on_commit(account_id)
    return {"queued": len(ids)}
