"""Use cases on provider accounts that views and tasks share."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from core import crypto
from providers.base import AccountInfo
from providers.errors import ProviderError
from providers.models import ProviderAccount, SenderName
from webhooks import events
from webhooks.models import EventType

logger = logging.getLogger(__name__)


def check_connection(account: ProviderAccount) -> AccountInfo:
    """Asks the provider for the account's balance and sender names and records the outcome.

    On success the balance (or credits) and its time are stored and ``last_error`` is cleared;
    on failure ``last_error`` holds the provider's error in plain words and the error is raised.
    A provider that cannot report a balance raises NotSupported and leaves the account as it is.
    """
    if not account.adapter_class.capabilities.account_info:
        raise account.adapter().unsupported("checking the balance")
    try:
        with account.adapter() as adapter:
            info = adapter.account_info()
    except (ProviderError, crypto.CredentialsUnreadable) as exc:
        account.last_error = str(exc)
        account.save(update_fields=["last_error"])
        logger.info("Connection check failed for account %s: %s", account.pk, exc)
        raise
    before = account.balance
    account.balance_in_credits = info.balance is None and info.credits is not None
    account.balance = info.credits if account.balance_in_credits else info.balance
    account.balance_checked_at = timezone.now()
    account.last_error = ""
    if info.currency:
        account.currency = info.currency.upper()[:3]
    account.save(
        update_fields=[
            "balance", "balance_in_credits", "balance_checked_at", "last_error", "currency"
        ]
    )  # fmt: skip
    if _fell_low(account, before):
        events.record(account.workspace_id, EventType.BALANCE_LOW, _balance_data(account))
    return info


def _fell_low(account: ProviderAccount, before) -> bool:
    """The balance is under the account's alert level now, and was not at the last check."""
    low = account.low_balance
    if low is None or account.balance is None or account.balance >= low:
        return False
    return before is None or before >= low


def _balance_data(account: ProviderAccount) -> dict:
    unit = "credits" if account.balance_in_credits else account.currency
    return {
        "account": {"id": account.pk, "name": account.name, "provider": account.provider},
        "balance": account.balance,
        "unit": unit,
        "low_balance": account.low_balance,
        "checked_at": account.balance_checked_at,
    }


def refresh_sender_statuses(account: ProviderAccount, info: AccountInfo) -> int:
    """Updates the approval status of the account's sender names the provider listed.

    Returns how many changed. Names the provider lists that the account does not have are left
    for a person to import (Test connection, then Import); names it does not list are left as
    they are.
    """
    reported = {remote.value.strip()[:20]: remote.status for remote in info.senders}
    changed = 0
    with transaction.atomic():
        for sender in account.senders.filter(value__in=reported).select_for_update():
            if sender.status != reported[sender.value]:
                sender.status = reported[sender.value]
                sender.save(update_fields=["status"])
                changed += 1
    return changed


def import_senders(account: ProviderAccount, info: AccountInfo) -> tuple[int, int]:
    """Creates or updates the account's sender names from what the provider listed.

    Returns (created, updated). The provider is the authority on approval status, so a status
    it reports replaces ours; names it does not list are left alone.
    """
    created = updated = 0
    with transaction.atomic():
        for remote in info.senders:
            value = remote.value.strip()[:20]
            if not value:
                continue
            kind = (
                SenderName.Kind.NUMERIC
                if value.removeprefix("+").isdigit()
                else SenderName.Kind.ALPHANUMERIC
            )
            sender, was_created = SenderName.objects.get_or_create(
                account=account,
                value=value,
                defaults={"kind": kind, "status": remote.status, "note": "Imported"},
            )
            if was_created:
                created += 1
            elif sender.status != remote.status:
                sender.status = remote.status
                sender.save(update_fields=["status"])
                updated += 1
    return created, updated
