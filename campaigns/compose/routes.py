"""The cheapest route (Campaign.cheapest_route): which of the workspace's accounts may carry a
campaign's messages to which country, and which one carries each country.

An account other than the campaign's own is a candidate when it is active, in the same
workspace and the same currency (money is never compared across currencies), when its
provider takes the campaign as it would be sent (the channel, the options, a sender name
where the provider needs one: outgoing.refusals, the launch's own check), and when the
campaign's sender name is registered on it and approved, as step 1 requires of the campaign's
own account. A candidate may carry a country its allowed countries include and its rate card
prices in full, every prefix of it.

campaigns.compose.pricing prices every country with every candidate and ``choose`` picks per
country; the launch then moves each route's messages to its account in one UPDATE
(services.launch). Rate cards are compared, not provider quotes: a quote is an HTTP call per
account and campaign, and only the campaign's own account is asked for one on the preview.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from campaigns.compose import outgoing
from campaigns.models import Campaign
from providers.models import ProviderAccount, RateCard, SenderName


@dataclass(frozen=True)
class Candidate:
    """An account that may carry the campaign, with its rate card for the campaign's channel."""

    account: ProviderAccount
    card: RateCard
    own: bool  # the campaign's own account: its messages keep Message.account empty

    def may_send_to(self, country: str) -> bool:
        allowed = self.account.allowed_country_set()
        return self.own or (bool(country) and (allowed is None or country in allowed))


def candidates(campaign: Campaign) -> list[Candidate]:
    """The campaign's own account first, then, with the cheapest route on, the other accounts
    that may carry it, by name."""
    own = [Candidate(campaign.account, RateCard.of(campaign.account, campaign.channel), True)]
    if not campaign.cheapest_route:
        return own
    others = [Candidate(a, RateCard.of(a, campaign.channel), False) for a in others_of(campaign)]
    return own + others


def others_of(campaign: Campaign) -> list[ProviderAccount]:
    """The workspace's other accounts that may carry the campaign (see the module's doc)."""
    accounts = ProviderAccount.objects.filter(
        workspace_id=campaign.workspace_id,
        is_active=True,
        currency__iexact=campaign.account.currency,
    ).exclude(pk=campaign.account_id)
    if campaign.sender:
        accounts = accounts.filter(
            senders__value=campaign.sender, senders__status=SenderName.Status.APPROVED
        )
    return [a for a in accounts.order_by("name", "pk") if not refused(campaign, a)]


def refused(campaign: Campaign, account: ProviderAccount) -> bool:
    """Whether ``account``'s provider would refuse the campaign's batches."""
    moved = copy.copy(campaign)
    moved.account = account
    return bool(outgoing.refusals(moved))


def choose(offers: Iterable[tuple[Candidate, Decimal | None]]) -> Candidate | None:
    """The candidate with the lowest cost among ``offers`` of (candidate, its cost for a
    country, or None where it cannot price all of it); None when none can. A tie keeps the
    earlier one: the campaign's own account, offered first, wins a tie, so no message changes
    account for nothing, and other accounts tie by name."""
    best, best_cost = None, None
    for candidate, cost in offers:
        if cost is not None and (best_cost is None or cost < best_cost):
            best, best_cost = candidate, cost
    return best
