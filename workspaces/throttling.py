"""Login throttling by address across usernames, on top of django-axes's per-pair lockout.

Axes locks a username on one address after AXES_FAILURE_LIMIT failures; it has one limit for
every lockout parameter, so an address trying many usernames once each was never stopped. This
handler also counts every failure from the address, whatever the username, and locks the
address out for the cool-off once CRIER_LOGIN_ADDRESS_FAILURE_LIMIT is reached: a larger limit,
so that colleagues behind one office address do not lock each other out by mistyping.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class AddressLimitHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Failures of the username on this address, or the per-pair limit itself (a lockout)
        when the address has reached its own limit across all usernames."""
        failures = super().get_failures(request, credentials)
        if address_failures(request) >= settings.CRIER_LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures


def address_failures(request) -> int:
    """Failed logins from the request's address within the cool-off, over all usernames."""
    recent = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0
