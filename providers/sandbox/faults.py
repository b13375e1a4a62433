"""Fault knobs: how a sandbox account misbehaves on purpose, so tests see every failure mode.

Applied to every authenticated request of the account, in this order:

1. ``slow_seconds``: sleep, then carry on normally; ``slow_accept_seconds``: for a request
   that bills messages only (after the checks below), work on it that long before anything
   of it is visible, then bill and answer, even if the client has stopped waiting: a slow but
   correct provider, whose lookups find nothing while it is still working.
2. ``error_burst``: while above 0, answer 503 without doing anything, counting down by one;
   ``errors_until``: answer 503 to everything until that time.
3. ``rate_limit_every_n``: every Nth request is refused in the provider's own way (HTTP 429
   with ``Retry-After: retry_after``; Mobizon: API code 30), without doing anything. A request
   that arrives before the Retry-After it was given has passed is counted in
   ``early_requests``, so tests can prove that Crier waits as long as it is told.
4. The request is handled. Then, only if it succeeded:
   - ``crash_after_accept``: when it accepted (charged) messages, answer 500 instead;
     ``crash_after_accept_every_n``: the same for every Nth request that accepted messages;
   - ``malformed_json``: answer the body cut in half;
   - ``hang``: sleep ``SANDBOX_HANG_SECONDS`` (default 60) before answering, so the client's
     read timeout fires although the work was done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone

from providers.sandbox import billing
from providers.sandbox.models import SandboxAccount


def run(
    account: SandboxAccount,
    handle: Callable[[], HttpResponse],
    rate_limited: Callable[[int], HttpResponse],
    *,
    bills: bool = False,
) -> HttpResponse:
    count = _count_request(account)
    if account.retry_not_before and timezone.now() < account.retry_not_before:
        SandboxAccount.objects.filter(pk=account.pk).update(early_requests=F("early_requests") + 1)
    if account.slow_seconds:
        time.sleep(account.slow_seconds)
    if (account.error_burst and _take_error(account)) or (
        account.errors_until and timezone.now() < account.errors_until
    ):
        return HttpResponse(
            '{"message": "Service Unavailable"}', status=503, content_type="application/json"
        )
    if account.rate_limit_every_n and count % account.rate_limit_every_n == 0:
        SandboxAccount.objects.filter(pk=account.pk).update(
            retry_not_before=timezone.now() + timedelta(seconds=account.retry_after)
        )
        response = rate_limited(account.retry_after)
        response["Retry-After"] = str(account.retry_after)
        return response

    if bills and account.slow_accept_seconds:
        time.sleep(account.slow_accept_seconds)
    marker = billing.charged_here.set(0)
    try:
        response = handle()
        charged = billing.charged_here.get()
    finally:
        billing.charged_here.reset(marker)
    if response.status_code >= 400 or _is_error_envelope(response):
        return response
    if charged and _crash(account):
        return HttpResponse("Internal Server Error", status=500, content_type="text/plain")
    if account.malformed_json:
        response.content = response.content[: max(1, len(response.content) // 2)]
    if account.hang:
        time.sleep(getattr(settings, "SANDBOX_HANG_SECONDS", 60))
    return response


def _count_request(account: SandboxAccount) -> int:
    with transaction.atomic():
        SandboxAccount.objects.filter(pk=account.pk).update(request_count=F("request_count") + 1)
        account.request_count = (
            SandboxAccount.objects.filter(pk=account.pk)
            .values_list("request_count", flat=True)
            .get()
        )
    return account.request_count


def _crash(account: SandboxAccount) -> bool:
    """Whether this request, which accepted messages, answers 500 instead."""
    if account.crash_after_accept:
        return True
    if not account.crash_after_accept_every_n:
        return False
    SandboxAccount.objects.filter(pk=account.pk).update(
        accepting_requests=F("accepting_requests") + 1
    )
    accepting = SandboxAccount.objects.values_list("accepting_requests", flat=True).get(
        pk=account.pk
    )
    return accepting % account.crash_after_accept_every_n == 0


def _take_error(account: SandboxAccount) -> bool:
    """Use up one error of the burst; False when another request already took the last one."""
    taken = SandboxAccount.objects.filter(pk=account.pk, error_burst__gt=0).update(
        error_burst=F("error_burst") - 1
    )
    return bool(taken)


def _is_error_envelope(response: HttpResponse) -> bool:
    # Mobizon reports errors as HTTP 200 with a non-zero code; the faults after handling only
    # make sense for work that was actually done.
    return getattr(response, "sandbox_error", False)
