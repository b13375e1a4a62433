"""Overview figures that must not mislead: money is summed per currency (never added across
currencies, never labelled with a currency it is not in), and a delivery rate counts only the
messages the provider was handed (a stopped campaign's cancelled messages are not in it)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Sum

from campaigns.models import Batch, CampaignCounters
from campaigns.pages import queries as pages
from core import statuses
from core.compiled import A_TIME, AN_ID, Compiled
from providers.models import ProviderAccount

# Handed to the provider, with an outcome it reported: the delivery rate's denominator.
REPORTED = statuses.REPORTED_FINAL


def _counters_since(workspace, since):
    return CampaignCounters.objects.filter(
        campaign__workspace=workspace, campaign__launched_at__gte=since
    )


def month_totals(workspace, now) -> list[str]:
    """This month's reported cost, one total per currency ("12.50 EUR", "3,000.00 KZT"),
    summed from the batches as each account billed them (a campaign may be billed in two)."""
    return pages.month_spending(workspace, now)[1]


def _routed_since(workspace, since):
    """The campaigns launched since then some batch of which went through another account than
    the campaign's (a failover, the cheapest route)."""
    return (
        Batch.objects.filter(campaign__workspace=workspace, campaign__launched_at__gte=since)
        .exclude(account=None)
        .exclude(account=F("campaign__account"))
        .values("campaign")
    )


def _rates(workspace, since):
    return (
        _counters_since(workspace, since)
        .exclude(campaign__in=_routed_since(workspace, since))
        .values("campaign__account__provider")
        .annotate(**{s: Sum(s) for s in statuses.HANDED_OVER})
        .order_by("campaign__account__provider")
    )


def _routed(workspace, since):
    return _routed_since(workspace, since).order_by().distinct()


# Built into SQL once (core.compiled): building them cost more CPU than their answers.
_ROUTED = Compiled(_routed, workspace=AN_ID, since=A_TIME)
_RATES = Compiled(_rates, workspace=AN_ID, since=A_TIME)


def routed_campaigns(workspace, now) -> int:
    """How many campaigns of the last DAYS days provider_rates leaves out."""
    since = now - timedelta(days=pages.DAYS)
    return len(_ROUTED(workspace=workspace.pk, since=since))


def provider_rates(workspace, now) -> list[dict]:
    """Delivery rate per provider over the campaigns launched in the last DAYS days: delivered
    among the messages handed over whose outcome is known, shown "of" those handed over. A
    campaign whose messages went through several accounts is left out (its counters cannot
    say which provider delivered what, and the overview never counts messages): its page's
    Routes show it, and the overview says how many were left out (routed_campaigns)."""
    since = now - timedelta(days=pages.DAYS)
    result = []
    for row in _RATES(workspace=workspace.pk, since=since):
        handed_over = sum(row[s] or 0 for s in statuses.HANDED_OVER)
        if not handed_over:
            continue  # nothing reached this provider: no rate to speak of
        reported = sum(row[s] or 0 for s in REPORTED)
        delivered = row["delivered"] or 0
        slug = row["campaign__account__provider"]
        result.append(
            {
                "provider": ProviderAccount(provider=slug).get_provider_display() if slug else "—",
                "messages": f"{handed_over:,}",
                "rate": pages.percent(delivered, reported),
                "value": round(delivered * 100 / reported) if reported else 0,
            }
        )
    return result
