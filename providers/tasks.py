"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from providers import services
from providers.crypto import CredentialsUnreadable
from providers.errors import ProviderError
from providers.models import ProviderAccount


@shared_task
def refresh_account(account_id: int) -> dict:
    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return {"account": account_id, "skipped": "gone or disabled"}
    try:
        services.check_connection(account)
    except (ProviderError, CredentialsUnreadable) as exc:
        return {"account": account_id, "error": exc.__class__.__name__}
    return {"account": account_id, "balance": str(account.balance)}


@shared_task
def refresh_balances() -> dict:
    """Periodic: queue a balance check for every active account."""
    ids = [
        account.pk
        for account in ProviderAccount.objects.filter(is_active=True).only("pk", "provider")
        if account.adapter_class.capabilities.account_info
    ]
    for account_id in ids:
        refresh_account.delay_on_commit(account_id)
    return {"queued": len(ids)}
