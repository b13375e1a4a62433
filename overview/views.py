from __future__ import annotations

from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from campaigns.pages import queries as pages
from campaigns.pages import rows
from campaigns.tracking import charts
from core.compiled import AN_ID, Compiled
from overview import figures
from providers.models import SenderName
from workspaces.models import Membership, Role
from workspaces.tenancy import role_required

# Built into SQL once (core.compiled), as the figures' queries are.
_SENDERS = Compiled(
    lambda workspace: (
        SenderName.objects.filter(account__workspace=workspace)
        .values_list("status")
        .annotate(Count("pk"))
        .order_by()
    ),
    workspace=AN_ID,
)
_MEMBERS = Compiled(
    lambda workspace: (
        Membership.objects.filter(workspace=workspace).order_by().values_list("pk", flat=True)
    ),
    workspace=AN_ID,
)


@require_safe
@role_required(Role.VIEWER)
def overview(request):
    """The workspace at a glance: this month's spend, the last 30 days' messages by status,
    delivery rate per provider, what is running now and the balances. Every figure comes from
    the campaigns' counters rows, never from their messages."""
    workspace, now = request.workspace, timezone.now()
    accounts = pages.balances(workspace, now)
    daily = pages.daily_counts(workspace, now)
    shown = {s for _, counts in daily for s, n in counts.items() if n}
    spend, spend_totals = pages.month_spending(workspace, now)  # one query for both
    running = pages.running(workspace)
    return render(
        request,
        "overview.html",
        {
            "accounts": accounts,
            "low_balances": [row for row in accounts if row["low"]],
            "sender_counts": dict(_SENDERS(workspace=workspace.pk)),
            "member_count": len(_MEMBERS(workspace=workspace.pk)),
            "spend": spend,
            "spend_totals": spend_totals,
            "month": now.astimezone(workspace.zone),
            "daily_chart": charts.daily_chart(daily),
            "legend": charts.legend(shown),
            "rates": figures.provider_rates(workspace, now),
            "rates_left_out": figures.routed_campaigns(workspace, now),
            "running": running,
            "running_rows": rows.running(running),
        },
    )
