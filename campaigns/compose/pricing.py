"""What a campaign will cost before it is sent, and whether the account can pay for it.

``price(campaign)`` multiplies the parts of every pending message by the account's rate for
its destination (see providers.models.RateCard) and groups the result per destination; with
the cheapest route on, each country goes through the candidate account (compose/routes.py)
whose card prices it lowest, and ``route_summary`` tells the split and the saving.
``estimate(campaign)`` is the same figure stored with a fingerprint of what it was computed from,
so the preview and the launch reuse it while it is fresh; ``estimate_or_job`` hands a campaign
too big to price during a request to a worker, which reports its progress.
``provider_quote(campaign)`` asks the provider for its own figure where it gives one, and
``quote_differs`` flags a gap over 1 %. ``check_balance`` compares the estimate with the
balance or the credits the provider reports. Money is Decimal in the account's currency.

Longer than 400 lines because the estimate, its stored and background form, the provider's quote
and the balance check are read together on the preview and at launch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal
from itertools import islice

from django.conf import settings
from django.db.models import Count, F, Max, QuerySet, Sum
from django.db.models.functions import Substr
from django.utils import timezone

from campaigns import audiences
from campaigns.compose import routes
from campaigns.compose.outgoing import JsonText, contacts_for, messages_for, spec_for
from campaigns.compose.templating import Template, has_placeholders
from campaigns.models import Campaign, Channel, Estimate, EstimateStatus
from core.queue import enqueue
from core.sms_parts import count, count_rendered, plain_parts
from core.statuses import CampaignStatus, MessageStatus
from providers.base import AccountInfo, Quote
from providers.errors import NotSupported, ProviderError
from providers.models import ProviderAccount, Rate, RateCard
from providers.services import check_connection

logger = logging.getLogger(__name__)

QUOTE_TOLERANCE = Decimal("0.01")  # a provider quote further than 1 % from ours is flagged
CHUNK = 50_000  # recipients of a template priced between two progress reports
STALLED_AFTER = timedelta(minutes=2)  # a computation silent this long lost its worker


@dataclass(frozen=True)
class PriceLine:
    """Recipients in one country priced by one rate."""

    country: str  # ISO code of the recipients, "" when unknown
    rate: str  # the rate that priced them: "KZ", or "+7701" for a prefix
    messages: int
    segments: int  # SMS parts (one per message for voice)
    price: Decimal  # per segment
    account: int | None = None  # the cheapest route's account; None: the campaign's own

    @property
    def subtotal(self) -> Decimal:
        return self.price * self.segments


@dataclass(frozen=True)
class UnpricedLine:
    """Recipients in one country for which the rate card has no rate."""

    country: str
    messages: int
    segments: int


@dataclass(frozen=True)
class RouteLine:
    """The recipients in one country that the cheapest route sends through one account."""

    country: str
    account: int | None  # None: the campaign's own account
    messages: int
    segments: int
    cost: Decimal


@dataclass(frozen=True)
class PriceEstimate:
    currency: str  # the account's; "" for a campaign without an account
    lines: tuple[PriceLine, ...]
    unpriced: tuple[UnpricedLine, ...]  # non-empty: sending needs the user's confirmation
    # With the cheapest route: what the campaign's own account alone would charge for the
    # priced lines. None: the campaign sends through its own account only.
    single_total: Decimal | None = None

    @property
    def total(self) -> Decimal:
        """The price of the priced lines; unpriced messages add an unknown amount."""
        return sum((line.subtotal for line in self.lines), Decimal(0))

    @property
    def messages(self) -> int:
        return sum(line.messages for line in (*self.lines, *self.unpriced))

    @property
    def segments(self) -> int:
        return sum(line.segments for line in (*self.lines, *self.unpriced))

    @property
    def unpriced_messages(self) -> int:
        return sum(line.messages for line in self.unpriced)

    @property
    def needs_confirmation(self) -> bool:
        """Some destinations have no rate: the price is a lower bound."""
        return bool(self.unpriced)

    @property
    def routes(self) -> tuple[RouteLine, ...]:
        """The priced lines per country and account, by country (the cheapest route's split)."""
        merged: dict[tuple[str, int | None], RouteLine] = {}
        for x in self.lines:
            was = merged.get((x.country, x.account)) or RouteLine(x.country, x.account, 0, 0, 0)
            merged[x.country, x.account] = RouteLine(
                x.country,
                x.account,
                was.messages + x.messages,
                was.segments + x.segments,
                was.cost + x.subtotal,
            )
        return tuple(merged.values())

    @property
    def routed(self) -> bool:
        """Some countries go through another account than the campaign's."""
        return any(line.account is not None for line in self.lines)

    @property
    def saving(self) -> Decimal:
        """What the cheapest route saves against the campaign's own account alone."""
        return Decimal(0) if self.single_total is None else self.single_total - self.total

    def share(self, account: int | None) -> PriceEstimate:
        """The part of the estimate one account sends (None: the campaign's own, with the
        unpriced messages, which always stay with it)."""
        return PriceEstimate(
            self.currency,
            tuple(x for x in self.lines if x.account == account),
            self.unpriced if account is None else (),
        )

    def as_json(self) -> dict:
        """What Estimate.result stores; money as strings. The totals are there for people
        reading the row; from_json derives them again."""
        return {
            "currency": self.currency,
            "lines": [
                [x.country, x.rate, x.messages, x.segments, str(x.price), x.account]
                for x in self.lines
            ],
            "unpriced": [[x.country, x.messages, x.segments] for x in self.unpriced],
            "total": str(self.total),
            "messages": self.messages,
            "segments": self.segments,
            "single_total": None if self.single_total is None else str(self.single_total),
        }

    @classmethod
    def from_json(cls, data: dict) -> PriceEstimate:
        single = data.get("single_total")
        return cls(
            currency=data["currency"],
            # Lines stored before the cheapest route have no account: the campaign's.
            lines=tuple(
                PriceLine(c, r, m, s, Decimal(p), *rest) for c, r, m, s, p, *rest in data["lines"]
            ),
            unpriced=tuple(UnpricedLine(*line) for line in data["unpriced"]),
            single_total=None if single is None else Decimal(single),
        )


def price(campaign: Campaign, progress: Callable[[int], None] | None = None) -> PriceEstimate:
    """Crier's price for the campaign's pending messages and its live audience (the contacts
    its lists and segments reach now, campaigns.audiences), from the account's rate card; with
    the cheapest route on, each country priced by the candidate accounts' cards
    (campaigns.compose.routes) and sent through the cheapest.

    A plain SMS text is counted once; a template is rendered and counted per recipient under
    the campaign's placeholder policy, ``CHUNK`` recipients at a time, calling
    ``progress(messages done)`` after each; a contact's values are the ones launch copies into
    its message (name, language, custom fields). A voice call counts as one segment priced by
    the card's voice rates: every provider we support bills a call, not a minute of text.
    """
    candidates = routes.candidates(campaign) if campaign.account else []
    groups = _Groups(candidate.card for candidate in candidates)
    sources = (_pending(campaign), audiences.contacts(campaign))
    if campaign.channel == Channel.VOICE or not has_placeholders(campaign.text):
        per_message = 1 if campaign.channel == Channel.VOICE else count(campaign.text).parts
        for source in sources:
            # Grouped by the database: one row per country and leading digits.
            rows = groups.read(source).values_list("prefix", "country").annotate(Count("pk"))
            for prefix, country, n in rows:
                groups.add((prefix, country), n, n * per_message)
    else:
        template = Template(campaign.text, campaign.placeholder_policy)
        done = _add_templates(template, sources[0], _message_values, groups, progress)
        _add_templates(template, sources[1], _contact_values, groups, progress, done)
    currency = campaign.account.currency if campaign.account else ""
    return _route(candidates, groups, currency, bool(campaign.account and campaign.cheapest_route))


def _pending(campaign: Campaign) -> QuerySet:
    return campaign.messages.filter(status=MessageStatus.PENDING).order_by()


def _message_values(name: str):
    return JsonText(name, "fields")


def _contact_values(name: str):
    """A contact's value for ``{name}``, as audiences.snapshot stores it in the message."""
    return F(name) if name in audiences.BUILT_IN_PLACEHOLDERS else JsonText(name, "fields")


def _add_templates(template, recipients, value_of, groups, progress, done=0) -> int:
    values = {f"value_{i}": value_of(name) for i, name in enumerate(template.names)}
    rows = groups.read(recipients).annotate(**values)
    rows = rows.values_list("prefix", "country", *values)
    fill, plain_length = template.fill, template.plain_length
    # One query read as it streams: progress is told between chunks, and progress writes do
    # not wait for the read (an autocommit write commits beside an open read on SQLite's WAL;
    # Django holds a PostgreSQL server-side cursor across commits).
    rows = rows.iterator(chunk_size=CHUNK)
    while chunk := list(islice(rows, CHUNK)):
        # A plain text's parts follow from its length alone, so most recipients are counted
        # by (destination, length) without rendering; the others are rendered and measured.
        lengths: Counter[tuple[tuple[str, str], int]] = Counter()
        texts = defaultdict(list)
        for prefix, country, *values in chunk:
            length = plain_length(values)
            if length is None:
                texts[prefix, country].append(fill(values))
            else:
                lengths[(prefix, country), length] += 1
        for (group, length), n in lengths.items():
            groups.add(group, n, n * plain_parts(length))
        for group, rendered in texts.items():
            groups.add(group, len(rendered), count_rendered(rendered).total_parts)
        done += len(chunk)
        if progress is not None:
            progress(done)
    return done


class _Groups:
    """Messages and parts per (leading digits, country) as pricing reads them.

    A number's rate depends only on its country and on its digits up to the longest prefix of
    the rate cards compared, so the database returns just those digits, and each (digits,
    country) is priced once per card, however many recipients share it.
    """

    def __init__(self, cards: Iterable[RateCard]):
        longest = max((len(p) for card in cards for p in card.by_prefix), default=0)
        self.width = 1 + longest  # "+" and the longest prefix
        self.messages: Counter[tuple[str, str]] = Counter()
        self.segments: Counter[tuple[str, str]] = Counter()

    def read(self, messages: QuerySet) -> QuerySet:
        """``messages`` with ``prefix``: as many leading characters as decide the rate."""
        return messages.annotate(prefix=Substr("phone", 1, self.width))

    def add(self, group: tuple[str, str], messages: int, segments: int) -> None:
        self.messages[group] += messages
        self.segments[group] += segments

    def priced_by(self, card: RateCard, account: int | None) -> dict[str, list]:
        """Per country, the PriceLines of ``card`` (its lines for ``account``) and, where the
        card has no rate for some of its recipients, one UnpricedLine among them."""
        rates: dict[str, Rate] = {}
        messages: Counter[tuple[str, str | None]] = Counter()
        segments: Counter[tuple[str, str | None]] = Counter()
        for (prefix, country), n in self.messages.items():
            rate = card.rate_for(prefix, country)
            if rate is not None:
                rates[rate.destination] = rate
            key = (country, rate.destination if rate else None)
            messages[key] += n
            segments[key] += self.segments[prefix, country]
        lines = defaultdict(list)
        for (country, rate), n in messages.items():
            parts = segments[country, rate]
            if rate is None:
                lines[country].append(UnpricedLine(country, n, parts))
            else:
                price = rates[rate].price
                lines[country].append(PriceLine(country, rate, n, parts, price, account))
        return lines


def _route(
    candidates: list[routes.Candidate], groups: _Groups, currency: str, routing: bool
) -> PriceEstimate:
    """Each country through the cheapest candidate that prices all of it (routes.choose); a
    country the campaign's own account (the first candidate) cannot price in full stays with
    it, so the saving compares like with like. ``routing``: the cheapest route is on, and the
    estimate says what the own account alone would charge. With one candidate, the plain
    estimate; with none (no account), every recipient unpriced."""
    offers = {c: groups.priced_by(c.card, None if c.own else c.account.pk) for c in candidates}
    own = offers[candidates[0]] if candidates else groups.priced_by(RateCard(()), None)
    lines, single_total = [], Decimal(0)
    for country, own_lines in own.items():
        single_total += sum((x.subtotal for x in own_lines if isinstance(x, PriceLine)), 0)
        chosen = candidates[0] if candidates else None
        if len(candidates) > 1 and not _has_unpriced(own_lines):
            usable = (c for c in candidates if c.may_send_to(country))
            chosen = routes.choose((c, _cost(offers[c].get(country))) for c in usable)
        lines += offers[chosen][country] if chosen else own_lines
    priced = [x for x in lines if isinstance(x, PriceLine)]
    unpriced = [x for x in lines if isinstance(x, UnpricedLine)]
    return PriceEstimate(
        currency=currency,
        lines=tuple(sorted(priced, key=lambda line: (line.country, line.rate))),
        unpriced=tuple(sorted(unpriced, key=lambda line: (-line.messages, line.country))),
        single_total=single_total if routing else None,
    )


def _has_unpriced(lines) -> bool:
    return any(isinstance(x, UnpricedLine) for x in lines)


def _cost(lines) -> Decimal | None:
    """The price of one country's lines; None when some of them have no rate (or none)."""
    if not lines or _has_unpriced(lines):
        return None
    return sum((x.subtotal for x in lines), Decimal(0))


# --- Stored estimates and the background computation --------------------------------------


class _Replaced(Exception):
    """Another computation took over the campaign's estimate: this one stores nothing."""


def fingerprint(campaign: Campaign) -> tuple[str, int]:
    """(a digest of everything price() depends on, the number of recipients it prices).

    The pending messages, and the audience's contacts, are summed up by their count and the sum
    of their ids, in one pass over an index: an import adds rows with higher ids, a replace
    deletes and adds, a launch or a stop changes statuses, and each changes one or the other;
    nothing edits a message's number or values in place. The rate card is taken line by line,
    so an edit of a price shows even when its time does not.
    """
    ids = _pending(campaign).aggregate(n=Count("*"), sum=Sum("pk"))
    # The live audience the same way, with its latest edit: a contact's new value changes
    # what its message costs.
    contacts = audiences.contacts(campaign).aggregate(
        n=Count("*"), sum=Sum("pk"), edited=Max("updated_at")
    )
    account = campaign.account
    # The rate cards compared: the account's and, with the cheapest route, the other accounts
    # that may carry the campaign now, with the countries each may send to.
    accounts = [account] if account else []
    if account and campaign.cheapest_route:
        accounts += routes.others_of(campaign)
    cards = [
        [a.pk, a.currency, a.allowed_countries, *_card_of(a, campaign.channel)] for a in accounts
    ]
    inputs = [
        [ids["n"], ids["sum"]],
        [contacts["n"], contacts["sum"], contacts["edited"]],
        [campaign.channel, campaign.text, campaign.placeholder_policy, campaign.cheapest_route],
        [campaign.account_id, account.currency if account else ""],
        cards,
    ]
    digest = hashlib.sha256(json.dumps(inputs, default=str).encode()).hexdigest()
    return digest, ids["n"] + contacts["n"]


def _card_of(account, channel: str) -> list:
    rates = account.rates.filter(channel=channel).order_by("pk")
    return list(rates.values_list("country", "prefix", "price"))


def estimate(campaign: Campaign) -> PriceEstimate:
    """Crier's price for the campaign as it is now: the stored estimate while it is fresh, else
    price() computed here, and stored. The launch calls it, so it charges what the preview
    showed, without pricing a big campaign a second time."""
    digest, _ = fingerprint(campaign)
    record = Estimate.objects.filter(campaign=campaign).first()
    if record is not None and record.status == EstimateStatus.DONE and record.fingerprint == digest:
        return PriceEstimate.from_json(record.result)
    return _store(campaign, digest, price(campaign))


def estimate_or_job(campaign: Campaign) -> PriceEstimate | Estimate:
    """For the preview: the estimate when it is stored and fresh, or quick to compute (up to
    ``CRIER_PREVIEW_SYNC_LIMIT`` pending messages); otherwise the Estimate of the background
    computation for the campaign as it is now, started here unless one is under way."""
    digest, pending = fingerprint(campaign)
    record = Estimate.objects.filter(campaign=campaign).first()
    if record is not None and record.fingerprint == digest:
        if record.status == EstimateStatus.DONE:
            return PriceEstimate.from_json(record.result)
        if record.busy and not _stalled(record):
            return record
    if pending <= settings.CRIER_PREVIEW_SYNC_LIMIT:
        return _store(campaign, digest, price(campaign))
    return _start(campaign, digest, pending)


def job_to_report(campaign: Campaign) -> Estimate | None:
    """The background computation the preview polls, while it runs or once it failed; None
    when it finished (estimate_or_job then checks that the estimate is still fresh) or lost
    its worker."""
    record = Estimate.objects.filter(campaign=campaign).first()
    if record is None or record.status == EstimateStatus.DONE:
        return None
    return None if record.busy and _stalled(record) else record


def _stalled(record: Estimate) -> bool:
    return record.updated_at < timezone.now() - STALLED_AFTER


def _store(campaign: Campaign, digest: str, result: PriceEstimate) -> PriceEstimate:
    fields = {
        "fingerprint": digest,
        "token": uuid.uuid4().hex,  # a computation still running for older inputs stops
        "status": EstimateStatus.DONE,
        "rows_done": result.messages,
        "rows_total": result.messages,
        "result": result.as_json(),
        "error": "",
        "finished_at": timezone.now(),
    }
    Estimate.objects.update_or_create(campaign=campaign, defaults=fields)
    return result


def _start(campaign: Campaign, digest: str, pending: int) -> Estimate:
    fields = {
        "fingerprint": digest,
        "token": uuid.uuid4().hex,
        "status": EstimateStatus.QUEUED,
        "rows_done": 0,
        "rows_total": pending,
        "result": {},
        "error": "",
        "finished_at": None,
    }
    record, _ = Estimate.objects.update_or_create(campaign=campaign, defaults=fields)
    enqueue("campaigns.tasks.price_campaign", record.pk, record.token)
    return record


def run(estimate_id: int, token: str) -> dict:
    """The worker's side: prices the campaign, telling its progress, and stores the estimate
    with the fingerprint of what it read. Runs a queued computation once; one replaced in the
    meantime (another token) stops at its next progress report and stores nothing."""
    mine = Estimate.objects.filter(pk=estimate_id, token=token)
    claimed = mine.filter(status=EstimateStatus.QUEUED).update(
        status=EstimateStatus.RUNNING, updated_at=timezone.now()
    )
    record = mine.select_related("campaign__account").first() if claimed else None
    if record is None:
        return {"estimate": estimate_id, "skipped": "not queued"}
    campaign = record.campaign
    running = mine.filter(status=EstimateStatus.RUNNING)

    def report(done: int) -> None:
        if not running.update(rows_done=done, updated_at=timezone.now()):
            raise _Replaced

    try:
        digest, pending = fingerprint(campaign)
        if not running.update(fingerprint=digest, rows_total=pending, updated_at=timezone.now()):
            raise _Replaced
        result = price(campaign, progress=report)
    except _Replaced:
        return {"estimate": estimate_id, "skipped": "replaced"}
    except Exception:
        logger.exception("Pricing campaign %s failed", campaign.pk)
        running.update(
            status=EstimateStatus.FAILED,
            error="Crier hit an unexpected error while pricing this campaign. Refresh to try "
            "again, and tell your administrator if it happens again.",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return {"estimate": estimate_id, "status": EstimateStatus.FAILED}
    running.update(
        status=EstimateStatus.DONE,
        result=result.as_json(),
        rows_done=result.messages,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return {"estimate": estimate_id, "messages": result.messages, "total": str(result.total)}


# --- The provider's own figure -------------------------------------------------------------


class QuoteTooLarge(Exception):
    """More messages than a quote asks the provider about (CRIER_QUOTE_LIMIT); says so."""


def provider_quote(campaign: Campaign) -> Quote | None:
    """The provider's price for the campaign's pending messages and, for a draft drawing on
    the contact book, its audience as it is now (the messages the launch would make), or None
    where it gives none (no quote at this provider, none for this channel, or no recipients).

    Makes HTTP calls (Mobizon builds a draft campaign and deletes it), so call it from a task
    or a button, not on every page view. Raises ProviderError when the provider fails and
    QuoteTooLarge above CRIER_QUOTE_LIMIT messages, before reading any of them.
    """
    account = campaign.account
    if account is None or not account.adapter_class.capabilities.quote:
        return None
    pending = campaign.messages.filter(status=MessageStatus.PENDING)
    drawing = campaign.status == CampaignStatus.DRAFT and audiences.has_audience(campaign)
    count = pending.count() + (audiences.count(campaign).reached if drawing else 0)
    if count > settings.CRIER_QUOTE_LIMIT:
        raise QuoteTooLarge(
            f"{account.get_provider_display()} is asked for a price of at most "
            f"{settings.CRIER_QUOTE_LIMIT:,} messages, and this campaign has {count:,}: "
            "compare the estimate with the rate card instead."
        )
    spec = spec_for(campaign)
    outgoing = messages_for(campaign, pending)
    if drawing:
        outgoing += contacts_for(campaign)  # messages only from the launch on
    if not outgoing:
        return None
    try:
        with account.adapter() as adapter:
            return adapter.quote(spec, outgoing)
    except NotSupported:
        return None


def quote_differs(estimate: PriceEstimate, quote: Quote) -> bool:
    """True when the provider's figure is more than 1 % away from Crier's, or in another
    currency. Against a zero estimate, any non-zero quote differs."""
    if quote.currency and estimate.currency and quote.currency.upper() != estimate.currency:
        return True
    # The provider quotes every message through the campaign's own account.
    ours = estimate.total if estimate.single_total is None else estimate.single_total
    if not ours:
        return bool(quote.total)
    return abs(quote.total - ours) > ours * QUOTE_TOLERANCE


# --- Can the account pay? ------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceCheck:
    covered: bool | None  # None: Crier cannot tell (no balance reported, other currency)
    needed: Decimal
    available: Decimal | None
    unit: str  # a currency code, or "SMS credits"
    message: str  # a sentence for the page; blank when covered and every price is known

    @property
    def blocks_sending(self) -> bool:
        return self.covered is False


class Funds:
    """The funds of the accounts a campaign may send through, each asked of its provider once.

    ``Funds.read_for(campaign)`` asks them all before a launch's transaction (the campaign's
    account and, with the cheapest route on, every account that may carry part of it), so no
    lock is held while the providers answer (review r23: on SQLite, the database's write lock).
    An account not read beforehand is asked when it is needed."""

    def __init__(self, campaign: Campaign, own: AccountInfo | None = None):
        self.campaign = campaign
        self._known: dict[int, AccountInfo | ProviderError | None] = {}
        if own is not None:
            self._known[campaign.account_id] = own

    @classmethod
    def read_for(cls, campaign: Campaign) -> Funds:
        funds = cls(campaign)
        if campaign.account is not None and campaign.account.is_active:
            accounts = [campaign.account]
            accounts += routes.others_of(campaign) if campaign.cheapest_route else []
            for account in accounts:
                funds._read(account)
        return funds

    def of(self, account: ProviderAccount) -> AccountInfo | None:
        """``account``'s funds, asked once; raises the ProviderError its provider answered."""
        known = self._read(account)
        if isinstance(known, ProviderError):
            raise known
        return known

    def _read(self, account: ProviderAccount) -> AccountInfo | ProviderError | None:
        if account.pk not in self._known:
            try:
                own = account.pk == self.campaign.account_id
                self._known[account.pk] = current_funds(self.campaign) if own else funds_of(account)
            except ProviderError as error:
                self._known[account.pk] = error
        return self._known[account.pk]


def current_funds(campaign: Campaign) -> AccountInfo | None:
    """The balance or credits the provider reports now (and stores on the account), or None
    when the provider cannot report one. Raises ProviderError when the provider fails."""
    return funds_of(campaign.account)


def funds_of(account: ProviderAccount | None) -> AccountInfo | None:
    """current_funds for any account: the campaign's, or one of its cheapest route's."""
    if account is None or not account.adapter_class.capabilities.account_info:
        return None
    return check_connection(account)


def route_summary(campaign: Campaign, estimate: PriceEstimate) -> dict:
    """The cheapest route's split per country, with each account's name as it is now, the
    other accounts compared, and what it saves, as the preview shows them and Campaign.estimate
    and the launch's audit event keep them (money as strings); nothing for a campaign sent
    through its own account only."""
    if estimate.single_total is None:
        return {}
    names = {a.pk: a.name for a in route_accounts(campaign, estimate)}
    names[None] = campaign.account.name
    split = [
        {
            "country": line.country,
            "account": line.account,
            "account_name": names[line.account],
            "messages": line.messages,
            "segments": line.segments,
            "cost": str(line.cost),
        }
        for line in estimate.routes
    ]
    return {
        "routes": split,
        "compared": [account.name for account in routes.others_of(campaign)],
        "single_total": str(estimate.single_total),
        "saving": str(estimate.saving),
    }


def route_accounts(campaign: Campaign, estimate: PriceEstimate) -> list[ProviderAccount]:
    """The accounts besides the campaign's own that the estimate sends through, by name."""
    ids = {line.account for line in estimate.lines if line.account is not None}
    accounts = ProviderAccount.objects.filter(workspace_id=campaign.workspace_id, pk__in=ids)
    return list(accounts.order_by("name", "pk"))


def check_balance(estimate: PriceEstimate, info: AccountInfo | None) -> BalanceCheck:
    """Whether the funds in ``info`` cover ``estimate``.

    Credit accounts (smsdrop) pay one credit per SMS part, whatever the rate card says;
    money accounts pay the estimate's total.
    """
    if info is None or (info.credits is None and info.balance is None):
        return BalanceCheck(
            None,
            estimate.total,
            None,
            estimate.currency,
            "The provider does not report a balance: make sure the account holds at least "
            f"{_money(estimate.total, estimate.currency)} before sending.",
        )
    if info.credits is not None:
        needed, available, unit = Decimal(estimate.segments), Decimal(info.credits), "SMS credits"
        short = f"The account has {info.credits:,} SMS credits and this campaign needs "
        short += f"{estimate.segments:,} (one per SMS part): add {needed - available:,} credits"
    else:
        currency = (info.currency or estimate.currency).upper()
        if estimate.currency and currency != estimate.currency:
            return BalanceCheck(
                None,
                estimate.total,
                info.balance,
                currency,
                f"The balance is in {currency} but the rates are in {estimate.currency}: "
                "Crier cannot compare them. Set the account's currency to match its rates.",
            )
        needed, available, unit = estimate.total, info.balance, currency
        top_up = _money(needed - available, unit, ROUND_UP)
        short = f"The balance is {_money(available, unit)} and this campaign costs "
        short += f"{_money(needed, unit)}: top up at least {top_up}"
    if available < needed:
        return BalanceCheck(False, needed, available, unit, short + " before sending.")
    message = ""
    if estimate.unpriced:
        message = (
            f"The funds cover the messages Crier can price; {estimate.unpriced_messages:,} "
            "have no rate and may cost more."
        )
    return BalanceCheck(True, needed, available, unit, message)


def _money(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> str:
    return f"{amount.quantize(Decimal('0.01'), rounding):,} {currency}".strip()
