"""The queries behind the campaign list, a campaign's recipient table and its live figures.

Every count comes from CampaignCounters, never from COUNT(*) or GROUP BY over a campaign's
messages: on a campaign of a million messages those take seconds, the counters row a fraction of
a millisecond. A search by number has no count to read, so its pages say only whether there is
a next one. Rows are formatted here, not by template filters: a 50-row table renders several
times faster from ready strings.

Longer than 400 lines because every figure the campaign pages and the overview show is read
here, from the counters, so no page computes one differently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, NullIf, TruncDate, Upper
from django.utils import timezone
from django.utils.dateparse import parse_date

from campaigns.models import Batch, Campaign, CampaignCounters, Channel, Message, by_account
from campaigns.pages import number_search
from campaigns.tracking import costs
from core import params, statuses
from core.compiled import A_TIME, AN_ID, Compiled
from core.statuses import CampaignStatus, MessageStatus, badge
from providers.models import ProviderAccount, RateCard

PAGE_SIZE = 50
CAMPAIGNS_PER_PAGE = 25


def counters_of(campaign: Campaign) -> CampaignCounters:
    """The campaign's counters; an unsaved empty row for a campaign without messages yet."""
    try:
        return campaign.counters
    except CampaignCounters.DoesNotExist:
        return CampaignCounters(campaign=campaign)


def delivery_rate(counts) -> float | None:
    """Delivered among the messages whose outcome is known, in percent; None before any."""
    known = sum(getattr(counts, s) for s in statuses.OUTCOMES)
    return counts.delivered * 100 / known if known else None


def percent(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f} %" if whole else "—"


def money(amount, currency: str) -> str:
    """An amount with its currency code, upper-case whatever case it was stored in."""
    if amount in (None, ""):
        return "—"
    return f"{Decimal(amount):,.2f} {(currency or '').upper()}".strip()


# --- A campaign's recipients ---------------------------------------------------------------


@dataclass
class RecipientPage:
    """One page of a campaign's recipients. ``total`` is None under a search (not counted)."""

    number: int
    rows: list[dict]
    total: int | None
    has_next: bool
    query: str = ""  # the filter's query string, for the page links

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // PAGE_SIZE))

    @property
    def start_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.rows)


@dataclass(frozen=True)
class RecipientFilter:
    status: str = ""  # one MessageStatus value, or "" for all
    search: str = ""  # the digits of a number, after a plus if it was typed with one

    @classmethod
    def from_query(cls, query) -> RecipientFilter:
        status = query.get("status", "")
        typed = params.text(query.get("q", ""))
        digits = params.ascii_digits(typed)
        search = ("+" if typed.startswith("+") and digits else "") + digits
        return cls(status if status in MessageStatus.values else "", search[:16])

    def apply(self, campaign: Campaign) -> QuerySet[Message]:
        messages = Message.objects.filter(campaign=campaign)
        if self.status:
            messages = messages.filter(status=self.status)
        if self.search:
            country = campaign.workspace.default_country
            return number_search.matching(campaign, messages, self.search, country)
        return messages.order_by("pk")

    def page_ids(self, campaign: Campaign, offset: int, size: int) -> QuerySet:
        """The ids (one column) of ``size`` messages from ``offset`` in ``apply``'s order. A
        number search without a status takes them from the number index alone when it answers
        (number_search.indexed): sorted and cut there, before any message is read."""
        if self.search and not self.status:
            country = campaign.workspace.default_country
            ids = number_search.indexed(campaign, self.search, country)
            if ids is not None:
                return ids.order_by("message_id")[offset : offset + size]
        return self.apply(campaign).values("pk")[offset : offset + size]

    def count(self, counters: CampaignCounters) -> int | None:
        if self.search:
            return None
        return getattr(counters, self.status) if self.status else counters.total

    def as_query(self) -> str:
        return urlencode({k: v for k, v in (("status", self.status), ("q", self.search)) if v})


def recipient_page(campaign, counters, filter: RecipientFilter, page: str | None) -> RecipientPage:
    total = filter.count(counters)
    number = params.whole_number(page) or 1
    if total is not None:
        number = min(number, max(1, -(-total // PAGE_SIZE)))
    offset = (number - 1) * PAGE_SIZE
    # The page's ids first, in a subquery of their own: PostgreSQL then reads them from the
    # (campaign, id, status) index alone. Asked for whole rows at once, it walks the primary key
    # past every other campaign's messages instead (0.5 s over 2M rows).
    ids = filter.page_ids(campaign, offset, PAGE_SIZE + 1)
    if filter.status and total == 0:
        # Nothing to read, and queued, sent and delivered are not in the (campaign, status)
        # index: finding none would walk all the campaign's entries in the (campaign,
        # id, status) one (25-36 ms over a million, against 0.01 ms before 0026).
        ids = Message.objects.none()
    rows = list(
        Message.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list(
            "row_number", "phone", "country", "status", "raw_status", "error_code",
            "error_reason", "updated_at", "fields",
        )
    )  # fmt: skip
    labels = dict(MessageStatus.choices)
    local = timezone.localtime
    formatted = [
        {
            "row": row or "",
            "phone": phone,
            "country": country,
            "status": status,
            "label": labels.get(status, status),
            "badge": badge(status),
            "raw": raw,
            "error": " ".join(x for x in (code, reason) if x),
            "updated": f"{local(updated):%Y-%m-%d %H:%M:%S}",
            "fields": " · ".join(f"{k}: {v}" for k, v in (fields or {}).items()),
        }
        for row, phone, country, status, raw, code, reason, updated, fields in rows[:PAGE_SIZE]
    ]
    return RecipientPage(number, formatted, total, len(rows) > PAGE_SIZE, filter.as_query())


# --- A campaign's live figures -------------------------------------------------------------


def short_links(campaign: Campaign) -> list[dict]:
    """The campaign's short links over all its batches (tracking.refresh_links), clicks added
    up, most clicked first."""
    totals: dict[str, dict] = {}
    for links in campaign.batches.order_by("pk").values_list("links", flat=True):
        for link in links or []:
            url = link["full_link"]
            safe = url if url.lower().startswith(("https://", "http://")) else ""  # never js:
            total = totals.setdefault(url, link | {"clicks": 0, "redirects": 0, "href": safe})
            total["clicks"] += link["clicks"]
            total["redirects"] += link["redirects"]
    return sorted(totals.values(), key=lambda link: -link["clicks"])


def unlaunched_at_provider(campaign: Campaign, bill: costs.Billing) -> list[tuple[str, list[str]]]:
    """Campaigns Crier created at a provider and never launched, and no longer means to (held
    for lack of credits, then stopped, expired at the deadline, or moved to the backup) but
    which that provider's API cannot delete: (its label, their ids), for a person to delete
    in the provider's panel. A provider that deletes before the start had them withdrawn.
    Asked only when the page's one query over the batches (``bill``) counted some."""
    if not bill.unlaunched:
        return []
    left = Batch.objects.filter(costs.UNLAUNCHED, campaign=campaign)
    found: dict[str, list[str]] = {}
    for account, batches in by_account(campaign, left).items():
        if not account.adapter_class.capabilities.delete_before_start:
            ids = found.setdefault(account.adapter_class.label, [])
            ids += [batch.provider_campaign_id for batch in batches]
    return list(found.items())


@dataclass
class Figures:
    total: int
    handed_over: int
    final: int
    by_status: list[tuple[str, str, int, str]] = field(default_factory=list)
    estimate: str = "—"
    cost: costs.ActualCost | None = None
    rate: str = "—"


def figures(
    campaign: Campaign, counters: CampaignCounters, bill: costs.Billing | None = None
) -> Figures:
    """Counts (with their share), progress and cost of a campaign, from its counters row and
    its batches' reported costs (``bill``: costs.billing(campaign), when the caller has it)."""
    total = counters.total
    result = Figures(
        total=total,
        handed_over=sum(getattr(counters, s) for s in statuses.HANDED_OVER),
        final=sum(getattr(counters, s) for s in statuses.FINAL),
        by_status=[
            (value, label, getattr(counters, value), percent(getattr(counters, value), total))
            for value, label in MessageStatus.choices
            if getattr(counters, value)
        ],
    )
    estimate = campaign.estimate or {}
    result.estimate = money(estimate.get("total"), estimate.get("currency", ""))
    result.cost = costs.actual_cost(campaign, result.handed_over, bill)
    rate = delivery_rate(counters)
    result.rate = "—" if rate is None else f"{rate:.1f} %"
    return result


# --- The campaign list ---------------------------------------------------------------------

# Sort keys the list offers: the URL's word -> the expression it orders by.
SORTS = {
    "created": F("created_at"),
    "scheduled": Coalesce("start_at", "launched_at"),
    "recipients": F("counters__total"),
    "rate": F("delivery_rate"),
    "cost": F("counters__cost"),
}


@dataclass(frozen=True)
class CampaignFilter:
    search: str = ""
    status: str = ""
    channel: str = ""
    account: int | None = None
    since: date | None = None
    until: date | None = None
    sort: str = "-created"

    @classmethod
    def from_query(cls, query) -> CampaignFilter:
        account = query.get("account", "")
        sort = query.get("sort", "")
        return cls(
            search=params.text(query.get("q", "")),
            status=query.get("status", "") if query.get("status") in CampaignStatus.values else "",
            channel=query.get("channel", "") if query.get("channel") in Channel.values else "",
            account=params.whole_number(account),
            since=_date(query.get("since")),
            until=_date(query.get("until")),
            sort=sort if sort.lstrip("-") in SORTS else "-created",
        )

    def apply(self, campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
        if self.search:
            words = Q()
            for name in ("name", "sender", "text"):
                words |= Q(**{f"{name}__icontains": self.search})
            campaigns = campaigns.filter(words)
        if self.status:
            campaigns = campaigns.filter(status=self.status)
        if self.channel:
            campaigns = campaigns.filter(channel=self.channel)
        if self.account:
            campaigns = campaigns.filter(account_id=self.account)
        if self.since:
            campaigns = campaigns.filter(created_at__date__gte=self.since)
        if self.until:
            campaigns = campaigns.filter(created_at__date__lte=self.until)
        if self.sort.lstrip("-") == "rate":
            campaigns = campaigns.annotate(delivery_rate=_rate_expression())
        key = SORTS[self.sort.lstrip("-")]
        order = key.desc(nulls_last=True) if self.sort.startswith("-") else key.asc(nulls_last=True)
        return campaigns.order_by(order, "-pk")

    def sort_link(self, key: str) -> str:
        """The sort for a column header's link: this column descending, or flipped."""
        return key if self.sort == f"-{key}" else f"-{key}"


def _date(value) -> date | None:
    try:
        return parse_date(value or "")
    except ValueError:
        return None


def _rate_expression():
    known = sum((F(f"counters__{s}") for s in statuses.OUTCOMES[1:]), F("counters__delivered"))
    return Cast("counters__delivered", FloatField()) / Cast(NullIf(known, 0), FloatField())


# What campaign_rows reads of a campaign, its account and its counters: values, not models. A
# campaign row holds some fifty columns, JSON among them (its zones grow with its recipients),
# that the list never shows, and building 25 campaigns with their accounts and counters cost
# more than the query.
ROW_VALUES = (
    "pk", "name", "sender", "status", "channel", "estimate", "created_at", "start_at",
    "launched_at", "account__name", "account__currency", "counters__total", "counters__cost",
    "counters__currency", *(f"counters__{s}" for s in statuses.OUTCOMES),
)  # fmt: skip


def campaign_rows(campaigns: QuerySet[Campaign]) -> list[dict]:
    """The list's rows, formatted. ``campaigns``: values(*ROW_VALUES) of the campaigns."""
    rows = []
    local = timezone.localtime
    status_labels, channel_labels = dict(CampaignStatus.choices), dict(Channel.choices)
    for c in campaigns:
        counters = CampaignCounters(
            total=c["counters__total"] or 0,
            cost=c["counters__cost"],
            currency=c["counters__currency"] or "",
            **{s: c[f"counters__{s}"] or 0 for s in statuses.OUTCOMES},
        )
        rate = delivery_rate(counters)
        # The reported cost's currency: as reported, else as estimated, else the account's.
        currency = (
            counters.currency
            or (c["estimate"] or {}).get("currency")
            or c["account__currency"]
            or ""
        )
        scheduled = c["start_at"] or c["launched_at"]
        rows.append(
            {
                "pk": c["pk"],
                "name": c["name"],
                "sender": c["sender"],
                "status": c["status"],
                "status_label": status_labels.get(c["status"], c["status"]),
                "badge": badge(c["status"]),
                "channel": channel_labels.get(c["channel"], c["channel"]),
                "account": c["account__name"] or "—",
                "recipients": f"{counters.total:,}",
                "rate": "—" if rate is None else f"{rate:.1f} %",
                "cost": money(counters.cost, currency),
                "created": f"{local(c['created_at']):%Y-%m-%d %H:%M}",
                "scheduled": f"{local(scheduled):%Y-%m-%d %H:%M}" if scheduled else "—",
            }
        )
    return rows


# --- The overview --------------------------------------------------------------------------

DAYS = 30
# An account is low when its balance would not last this many days at the last month's pace.
LOW_BALANCE_DAYS = 7


def _launched_since(workspace, since):
    return CampaignCounters.objects.filter(
        campaign__workspace=workspace, campaign__launched_at__gte=since
    )


def billed_since(workspace, since):
    """The batches the provider may have billed (costs.BILLABLE) of the campaigns launched
    since then, with ``route`` (the account each went through: its own, or for batches older
    than routes the campaign's) and ``cur``, the currency of its cost (as reported, else that
    account's, upper-case: "eur" is "EUR"). Money is summed from these, per account and
    currency: a campaign may go through several accounts (a failover, the cheapest route) and
    be billed in several currencies, which its counters' one cost cannot hold."""
    batches = Batch.objects.filter(
        costs.BILLABLE, campaign__workspace=workspace, campaign__launched_at__gte=since
    )
    return batches.annotate(
        route=Coalesce("account", "campaign__account"),
        cur=Upper(
            Coalesce(
                NullIf("currency", Value("")), "account__currency", "campaign__account__currency"
            )
        ),
    )


def month_spend(workspace, now) -> list[dict]:
    """Actual cost reported this month (in the workspace's time zone), per account and
    currency, with the campaigns and messages that went through the account and how many of
    those campaigns it has not fully reported yet."""
    return month_spending(workspace, now)[0]


def _month_accounts(workspace, since):
    return (
        billed_since(workspace, since)
        .values("route")
        .annotate(
            name=Coalesce("account__name", "campaign__account__name"),
            campaigns=Count("campaign", distinct=True),
            messages=Sum("accepted"),
            # A campaign some batch of which has no cost yet: the month's sum is partial.
            unreported=Count("campaign", distinct=True, filter=Q(cost=None)),
        )
        .order_by("name")
    )


def _billed_by_route_and_currency(workspace, since):
    billed = billed_since(workspace, since).filter(cost__isnull=False)
    return billed.values("route", "cur").annotate(n=Sum("cost")).order_by("cur")


# The overview's queries, built into SQL once (core.compiled): building them cost more CPU
# than the database took to answer them.
_MONTH_ACCOUNTS = Compiled(_month_accounts, workspace=AN_ID, since=A_TIME)
_BILLED_BY_CURRENCY = Compiled(_billed_by_route_and_currency, workspace=AN_ID, since=A_TIME)


def month_spending(workspace, now) -> tuple[list[dict], list[str]]:
    """month_spend's rows, and the month's total per currency ("12.50 EUR", "3,000.00 KZT",
    in currency order) added up from the same sums."""
    start = now.astimezone(workspace.zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    accounts = _MONTH_ACCOUNTS(workspace=workspace.pk, since=start)
    spent: dict[int, list[tuple[str, Decimal]]] = {}
    totals: dict[str, Decimal] = {}
    for row in _BILLED_BY_CURRENCY(workspace=workspace.pk, since=start):
        spent.setdefault(row["route"], []).append((row["cur"], row["n"]))
        totals[row["cur"]] = totals.get(row["cur"], Decimal(0)) + row["n"]
    rows = [
        {
            "account": row["name"] or "—",
            "spent": money(amount, currency) if amount is not None else "—",
            "campaigns": row["campaigns"],
            "messages": f"{row['messages'] or 0:,}",
            "unreported": row["unreported"],
        }
        for row in accounts
        for currency, amount in spent.get(row["route"]) or [("", None)]
    ]
    return rows, [money(amount, currency) for currency, amount in totals.items()]


def _daily(workspace, since, zone):
    return (
        _launched_since(workspace, since)
        .annotate(day=TruncDate("campaign__launched_at", tzinfo=zone))
        .values("day")
        .annotate(**{s: Sum(s) for s in MessageStatus.values})
        .order_by("day")
    )


_DAILY = Compiled(_daily, shape=("zone",), workspace=AN_ID, since=A_TIME)  # a plan a zone


def daily_counts(workspace, now) -> list[tuple[date, dict[str, int]]]:
    """The messages of the campaigns launched on each of the last DAYS days, by status."""
    zone = workspace.zone
    today = now.astimezone(zone).date()
    first = today - timedelta(days=DAYS - 1)
    start = datetime.combine(first, time.min, tzinfo=zone)
    rows = _DAILY(workspace=workspace.pk, since=start, zone=zone)
    by_day = {row.pop("day"): row for row in rows}
    return [
        (first + timedelta(days=i), by_day.get(first + timedelta(days=i), {})) for i in range(DAYS)
    ]


def _running(workspace, limit):
    return (
        Campaign.objects.filter(workspace=workspace, status__in=statuses.LIVE)
        .values("pk", "name", "status", "account__name", "counters__total",
                *(f"counters__{s}" for s in statuses.FINAL))
        .order_by("-launched_at", "-pk")[:limit]
    )  # fmt: skip


_RUNNING = Compiled(_running, shape=("limit",), workspace=AN_ID)


def running(workspace, limit: int = 10) -> list[dict]:
    """The campaigns being sent, the last launched first: values, not models (see ROW_VALUES)."""
    campaigns = _RUNNING(workspace=workspace.pk, limit=limit)
    labels = dict(CampaignStatus.choices)
    rows = []
    for c in campaigns:
        done = sum(c[f"counters__{s}"] or 0 for s in statuses.FINAL)
        total = c["counters__total"] or 0
        rows.append(
            {
                "pk": c["pk"],
                "name": c["name"],
                "status": c["status"],
                "status_label": labels.get(c["status"], c["status"]),
                "badge": badge(c["status"]),
                "account": c["account__name"] or "—",
                "done": done,
                "total": total,
                "progress": f"{done:,} of {total:,}",
            }
        )
    return rows


def _spent_in_own_currency(workspace, since):
    return (
        billed_since(workspace, since)
        .filter(cost__isnull=False)
        .filter(Q(currency="") | Q(cur=Upper("account__currency")) | Q(account=None))
        .values_list("route")
        .annotate(Sum("cost"))
        .order_by()
    )


_SPENT = Compiled(_spent_in_own_currency, workspace=AN_ID, since=A_TIME)
_ACCOUNTS = Compiled(
    lambda workspace: ProviderAccount.objects.filter(workspace=workspace), workspace=AN_ID
)


def balances(workspace, now) -> list[dict]:
    """Each account's balance, flagged low when it is spent or would not last LOW_BALANCE_DAYS
    at the pace of the last DAYS days."""
    spent = dict(_SPENT(workspace=workspace.pk, since=now - timedelta(days=DAYS)))
    rows = []
    for account in _ACCOUNTS(workspace=workspace.pk):
        pace = spent.get(account.pk, Decimal(0)) / DAYS
        low = account.balance is not None and (
            account.balance <= 0 or account.balance < pace * LOW_BALANCE_DAYS
        )
        days_left = int(account.balance / pace) if pace and account.balance is not None else None
        rows.append({"account": account, "low": low, "days_left": days_left})
    return rows


# --- A campaign's routes (failover, cheapest route) ------------------------------------------


@dataclass
class Route:
    """The messages of a campaign that go through one account and sender name."""

    account: ProviderAccount
    sender: str
    role: str  # "primary", "backup" or "" (another route)
    statuses: list[tuple[str, int]]  # (status label, messages), the largest first
    messages: int
    estimated: str  # in the account's currency, from its rate card
    actual: str  # what the account billed for the route's batches, per currency


def routes(campaign: Campaign, through: Iterable[int] | None = None) -> list[Route]:
    """Which messages went which way and what each way cost, for the campaign page: one
    GROUP BY over the campaign's messages (on the page, not in its polled part) and one over
    its batches. Only for a campaign with a backup, or a batch through another account than
    its own (asked first, without reading its messages); else []. ``through``: the accounts
    its batches went through (costs.Billing.through), when the caller has them."""
    if through is None:
        other = campaign.batches.exclude(account=None).exclude(account=campaign.account_id)
        routed_away = other.exists()
    else:
        routed_away = bool(set(through) - {campaign.account_id})
    if not campaign.backup_account_id and not routed_away:
        return []
    rows = (
        Message.objects.filter(campaign=campaign)
        .values_list("account", "sender", "status", "country")
        .annotate(n=Count("pk"))
        .order_by()
    )
    own = (campaign.account_id, campaign.sender)
    routed = campaign.routed_countries()  # messages not claimed yet go where their country goes
    tally: dict[tuple, Counter] = {}
    countries: dict[tuple, Counter] = {}
    for account_id, sender, status, country, n in rows:
        key = (account_id or routed.get(country) or own[0], sender or own[1])
        tally.setdefault(key, Counter())[status] += n
        countries.setdefault(key, Counter())[country] += n
    tally.setdefault(own, Counter())
    accounts = ProviderAccount.objects.in_bulk({key[0] for key in tally} - {None})
    billed = _billed_by_route(campaign)
    labels = dict(MessageStatus.choices)
    result = []
    for key, counts in sorted(tally.items(), key=lambda item: item[0] != own):
        account = accounts.get(key[0])
        if account is None:
            continue
        result.append(
            Route(
                account=account,
                sender=key[1],
                role=_role(campaign, account),
                statuses=[(labels.get(s, s), n) for s, n in counts.most_common() if n],
                messages=sum(counts.values()),
                estimated=_estimated(campaign, account, countries.get(key, Counter())),
                actual=" + ".join(money(v, c) for c, v in billed.get(key, {}).items()) or "—",
            )
        )
    return result


def _role(campaign: Campaign, account: ProviderAccount) -> str:
    if account.pk == campaign.account_id:
        return "primary"
    return "backup" if account.pk == campaign.backup_account_id else ""


def _billed_by_route(campaign: Campaign) -> dict[tuple, dict[str, Decimal]]:
    """(account id, sender) -> currency -> what the account reported billing."""
    rows = (
        campaign.batches.filter(costs.BILLABLE, cost__isnull=False)
        .values_list("account", "sender", "currency", "account__currency")
        .annotate(total=Sum("cost"))
        .order_by()
    )
    billed: dict[tuple, dict[str, Decimal]] = {}
    own = campaign.account.currency if campaign.account else ""
    for account_id, sender, currency, route_currency, total in rows:
        key = (account_id or campaign.account_id, sender or campaign.sender)
        currency = (currency or route_currency or own).upper()
        amounts = billed.setdefault(key, {})
        amounts[currency] = amounts.get(currency, Decimal(0)) + total
    return billed


def _estimated(campaign: Campaign, account: ProviderAccount, by_country: Counter) -> str:
    """The route's messages at the account's country rates, with the launch estimate's parts
    per message; "—" when a country has no rate there."""
    parts = costs.parts_per_message(campaign)
    card = RateCard.of(account, campaign.channel)
    total = Decimal(0)
    for country, n in by_country.items():
        rate = card.rate_for("", country)
        if rate is None:
            return "—"
        total += rate.price * parts * n
    return money(total, account.currency)
