"""A campaign's actual cost: what its provider billed for the campaign's batches, set beside
the price Crier estimated at launch.

The actual cost is only ever the sum of what the provider itself reported for each batch
(``Batch.cost``, written by campaigns.tracking.polling from its statistics or its per-message
prices). It is *partial* while a batch the provider may have billed has no cost yet, *not
reported* when the provider gives none (smsdrop reports a delivery percentage only, Conpeek
nothing), and never compared with an estimate in another currency. A provider campaign Crier
did not record (a batch resent without a trace) cannot be counted here: the account's own
statement is the only place it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q

from campaigns.models import Campaign, Channel, Message
from core.statuses import BatchStatus, CampaignStatus
from providers.models import ProviderAccount, RateCard

# Batches the provider may have billed: it took them, its answer is not in (or was lost), or
# it had created a campaign for them before the batch failed.
BILLABLE = Q(status__in=(BatchStatus.SUBMITTED, BatchStatus.SUBMITTING, BatchStatus.UNKNOWN)) | (
    Q(status=BatchStatus.FAILED) & ~Q(provider_campaign_id="")
)

# A difference from the estimate is rounding while it is at most half a cent for each batch
# reported. The estimate is exact (rate x parts, never rounded) and a provider rounds at most
# each batch's total to the cent (BSG and Mobizon report four decimals), so honest rounding
# stays within this. Anything more is a price or a count that differs: a rate card out of
# date, a batch billed twice. A share of the total (say 0.5 %) would hide one batch billed
# twice in a campaign of 200 batches or more.
ROUNDING_PER_BATCH = Decimal("0.005")


@dataclass(frozen=True)
class Billing:
    """What the provider reported for a campaign's batches, and which accounts they went
    through."""

    batches: int  # batches the provider may have billed
    reported: int  # of them, with a cost
    asked: int  # of them, asked about at least once
    # currency -> reported cost; where the provider stated none, the currency of the account
    # the batch went through ("" for one counting credits), named in ``assumed``
    amounts: dict[str, Decimal]
    assumed: tuple[str, ...] = ()
    # account id -> provider slug of every account a batch went through, whatever its status
    through: dict[int, str] = field(default_factory=dict)
    checking: int = 0  # messages in batches whose fate is being looked up (BatchStatus.UNKNOWN)
    # batches created at a provider, never launched and cancelled since (held, then stopped,
    # expired or moved to the backup): a person may have to delete them in its panel
    unlaunched: int = 0
    made: int = 0  # batches of any status: none, and the campaign has handed nothing over

    @property
    def partial(self) -> bool:
        return 0 < self.reported < self.batches


UNLAUNCHED = Q(status=BatchStatus.CANCELLED, submitted_at__isnull=True) & ~Q(
    provider_campaign_id=""
)


def billing(campaign: Campaign) -> Billing:
    """One query over the campaign's batches (a few hundred at most), never its messages: a
    row each, added up here. Each batch is billed by the account it went through, so amounts
    are kept per currency. (Six filtered aggregates took PostgreSQL no longer, but building
    their SQL cost twice the CPU, on every poll of the campaign page's live part.)"""
    rows = (
        campaign.batches.annotate(billable=BILLABLE, unlaunched=UNLAUNCHED)
        .values(
            "currency", "account__currency", "account", "account__provider", "status", "size",
            "cost", "polled_at", "billable", "unlaunched",
        )
        .order_by("currency", "account__currency", "account")
    )  # fmt: skip
    amounts: dict[str, Decimal] = {}
    assumed: set[str] = set()
    own = campaign.account.currency if campaign.account else ""
    counts = dict.fromkeys(("made", "batches", "reported", "asked", "checking", "unlaunched"), 0)
    through = {}
    for row in rows:
        counts["made"] += 1
        counts["unlaunched"] += bool(row["unlaunched"])
        if row["status"] == BatchStatus.UNKNOWN:
            counts["checking"] += row["size"] or 0
        if row["account"] is not None:
            through[row["account"]] = row["account__provider"]
        if not row["billable"]:
            continue
        counts["batches"] += 1
        counts["asked"] += row["polled_at"] is not None
        if row["cost"] is None:
            continue
        counts["reported"] += 1
        currency = row["currency"].upper()
        if not currency:  # the account's it went through (older batches: the campaign's)
            currency = (row["account__currency"] or own).upper()
            assumed.add(currency or "none")
        amounts[currency] = amounts.get(currency, Decimal(0)) + row["cost"]
    return Billing(
        batches=counts["batches"],
        reported=counts["reported"],
        asked=counts["asked"],
        amounts=amounts,
        assumed=tuple(sorted(assumed)),
        through=through,
        checking=counts["checking"],
        unlaunched=counts["unlaunched"],
        made=counts["made"],
    )


@dataclass(frozen=True)
class ActualCost:
    """The campaign page's words and figures for the actual cost."""

    actual: str  # "3,850.00 EUR", "Not reported by smsdrop", "—"
    source: str  # where the figure comes from and how much of it is in
    difference: str = ""  # "+3,150.00 EUR (+450.0 %)", empty when there is none to show
    verdict: str = ""  # "within rounding", "not comparable: …", "compared once …"
    flag: str = ""  # a sentence when the difference is beyond rounding
    partial: bool = False
    notes: tuple[str, ...] = ()
    # After a failover: what was estimated for the accounts that sent ("3.35 EUR"), the
    # figure the actual cost is compared with; the launch estimate priced all at the primary.
    as_sent: str = ""


def actual_cost(campaign: Campaign, handed_over: int, bill: Billing | None = None) -> ActualCost:
    """The actual cost of ``campaign`` against its estimate; ``handed_over``: its messages the
    provider took (from the counters); ``bill``: its billing(), when the caller has it."""
    bill = billing(campaign) if bill is None else bill
    label = _label(campaign, bill)
    estimate = campaign.estimate or {}
    notes = _estimate_notes(estimate, handed_over)
    if not bill.batches:
        return ActualCost("—", "Nothing has been handed to the provider yet.", notes=notes)
    if not bill.reported:
        return _not_reported(campaign, label, bill, notes)
    amounts = bill.amounts
    if bill.assumed:
        assumed = ", ".join(bill.assumed)
        notes += (f"{label} did not state the currency; taken as the account's ({assumed}).",)
    actual = " + ".join(_money(amount, currency) for currency, amount in amounts.items())
    so_far = f"{bill.reported:,} of {bill.batches:,} batches reported"
    source = f"Billed by {label}, {_how(campaign)}: {so_far}"
    source += "; the total is partial until every batch is reported." if bill.partial else "."
    result = ActualCost(
        actual=f"{actual} so far" if bill.partial else actual,
        source=source,
        partial=bill.partial,
        notes=notes,
    )
    if not campaign.failed_over_at:
        return _compare(result, amounts, estimate, bill)
    if campaign.status in MOVING:
        return replace(result, verdict="compared once the messages stop moving to the backup")
    planned, missing = as_sent(campaign)
    if missing:
        return replace(result, verdict=f"not compared: {missing}")
    shown = " + ".join(_money(amount, currency) for currency, amount in planned.items())
    result = replace(result, as_sent=shown)
    if len(planned) > 1:
        return _compare_each(result, amounts, planned, bill)
    [(currency, total)] = planned.items()
    return _compare(result, amounts, {"total": str(total), "currency": currency}, bill)


# A campaign in these states may still move messages from its primary to its backup.
MOVING = {CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED}


def parts_per_message(campaign: Campaign) -> Decimal:
    """The launch estimate's SMS parts per message (1 for a call)."""
    estimate = campaign.estimate or {}
    messages, segments = estimate.get("messages"), estimate.get("segments")
    if campaign.channel == Channel.VOICE or not (messages and segments):
        return Decimal(1)
    return Decimal(segments) / Decimal(messages)


def as_sent(campaign: Campaign) -> tuple[dict[str, Decimal], str]:
    """After a failover, what was estimated for the accounts that sent, per currency: the
    launch estimate with the messages that moved to the backup priced at the backup's rates
    instead of the primary's (per country, with the estimate's parts per message); and why it
    cannot be worked out ("" when it can). The countries the cheapest route sends through the
    backup from the start were priced so at launch and never fail over: they are left out.
    One GROUP BY over the backup's messages, asked once the campaign moves no more (MOVING)
    and kept in the cache while it stays so (the campaign page polls); a retry moves more and
    hands them over again, which changes ``submitted_at`` and so the key."""
    handed = campaign.submitted_at.timestamp() if campaign.submitted_at else ""
    key = f"crier:as-sent:{campaign.pk}:{campaign.failed_over_at.timestamp()}:{campaign.status}"
    key += f":{handed}"
    moved = cache.get(key)
    if moved is None:
        rows = Message.objects.filter(campaign=campaign, account_id=campaign.backup_account_id)
        rows = rows.exclude(country__in=list(campaign.routed_countries()))
        moved = dict(rows.values_list("country").annotate(n=Count("pk")).order_by())
        cache.set(key, moved, 3600)
    estimate = campaign.estimate or {}
    primary, backup = campaign.account, campaign.backup_account
    currency = (estimate.get("currency") or primary.currency).upper()
    planned = {currency: Decimal(estimate.get("total") or 0)}
    parts = parts_per_message(campaign)
    cards = [(RateCard.of(a, campaign.channel), a) for a in (primary, backup)]
    for country, n in moved.items():
        for sign, (card, account) in zip((-1, 1), cards, strict=True):
            rate = card.rate_for("", country)
            if rate is None:
                return {}, f"{account.name} has no rate for {country or 'an unknown country'}"
            code = account.currency.upper()
            planned[code] = planned.get(code, Decimal(0)) + sign * rate.price * parts * n
    return planned, ""


def _label(campaign: Campaign, bill: Billing) -> str:
    """Who billed: the provider of the campaign's account, or of each account its batches
    went through ("BSG and Mobizon")."""
    accounts = {campaign.account} if campaign.account else set()
    routed = [ProviderAccount(provider=slug) for slug in bill.through.values()]
    labels = sorted({a.get_provider_display() for a in (*accounts, *routed)})
    return " and ".join(labels) or "the provider"


def _not_reported(campaign: Campaign, label: str, bill: Billing, notes) -> ActualCost:
    capabilities = campaign.account.adapter_class.capabilities
    silent = not (capabilities.campaign_stats or capabilities.message_status)
    if not silent and not bill.asked:
        source = f"{label} has not been asked about its {bill.batches:,} batches yet."
        return ActualCost("Not reported yet", source, notes=notes)
    what = "reports nothing about a batch" if silent else "reports no price for these batches"
    source = f"{label} {what}: what it charged is in its own account, not here."
    return ActualCost(f"Not reported by {label}", source, notes=notes)


def _compare(result: ActualCost, amounts, estimate: dict, bill: Billing) -> ActualCost:
    if not estimate.get("total"):
        return replace(result, verdict="no estimate to compare with")
    planned = Decimal(estimate["total"])
    planned_currency = (estimate.get("currency") or "").upper()
    if len(amounts) > 1:
        billed_in = " and ".join(amounts)
        return replace(result, verdict=f"not comparable: billed in {billed_in}")
    [(currency, amount)] = amounts.items()
    if currency != planned_currency:
        verdict = f"not comparable: estimated in {planned_currency}, billed in {currency}"
        return replace(result, verdict=verdict)
    difference = amount - planned
    beyond = abs(difference) > ROUNDING_PER_BATCH * bill.reported
    shown = f"{_signed(difference, currency)} ({_share(difference, planned)})"
    if bill.partial:
        if difference > 0 and beyond:
            flag = (
                f"Already {_money(difference, currency)} above the estimate with "
                f"{bill.reported:,} of {bill.batches:,} batches reported."
            )
            return replace(result, difference=shown, flag=flag, verdict="more than rounding")
        return replace(result, verdict="compared once every batch is reported")
    if not beyond:
        return replace(result, difference=shown, verdict="within rounding")
    direction = "more" if difference > 0 else "less"
    flag = (
        f"{_money(abs(difference), currency)} {direction} than estimated: more than rounding "
        f"(half a cent a batch). Check the rate card and the provider's statement."
    )
    return replace(result, difference=shown, flag=flag, verdict="more than rounding")


def _compare_each(result: ActualCost, amounts, planned: dict, bill: Billing) -> ActualCost:
    """Billed in several currencies, as estimated: each currency against its estimate."""
    if set(amounts) != set(planned):
        verdict = f"not comparable: estimated in {' and '.join(planned)}, billed in "
        return replace(result, verdict=verdict + " and ".join(amounts))
    if bill.partial:
        return replace(result, verdict="compared once every batch is reported")
    differences = {c: amounts[c] - planned[c] for c in planned}
    shown = " · ".join(f"{_signed(d, c)} ({_share(d, planned[c])})" for c, d in differences.items())
    if all(abs(d) <= ROUNDING_PER_BATCH * bill.reported for d in differences.values()):
        return replace(result, difference=shown, verdict="within rounding")
    flag = (
        "more than rounding (half a cent a batch) away from the estimate. Check the rate "
        "cards and the providers' statements."
    )
    return replace(result, difference=shown, flag=flag.capitalize(), verdict="more than rounding")


def _how(campaign: Campaign) -> str:
    if campaign.account.adapter_class.capabilities.campaign_stats:
        return "from its campaign statistics"
    return "summed from its per-message prices"


def _estimate_notes(estimate: dict, handed_over: int) -> tuple[str, ...]:
    notes = []
    if unpriced := estimate.get("unpriced_messages"):
        notes.append(f"The estimate left {unpriced:,} messages without a rate: it is too low.")
    priced = estimate.get("messages")
    if priced is not None and handed_over != priced:
        notes.append(
            f"The estimate priced {priced:,} messages; {handed_over:,} were handed to the provider."
        )
    return tuple(notes)


def _money(amount: Decimal, currency: str) -> str:
    places = 2 if amount == 0 or abs(amount) >= Decimal("0.01") else 4
    return f"{amount:,.{places}f} {currency.upper()}".strip()


def _signed(amount: Decimal, currency: str) -> str:
    return ("+" if amount > 0 else "") + _money(amount, currency)


def _share(difference: Decimal, planned: Decimal) -> str:
    """The difference as a share of the estimate; never "+0.0 %" for a difference that is
    there."""
    if not planned:
        return "no estimate to take a share of"
    share = difference * 100 / planned
    if difference and abs(share) < Decimal("0.05"):
        return "under 0.1 %"
    return f"{share:+.1f} %" if difference else "0.0 %"
