"""What a campaign will cost before it is sent, and whether the account can pay for it.

``price(campaign)`` multiplies the parts of every pending message by the account's rate for
its destination (see providers.models.RateCard) and groups the result per destination.
``provider_quote(campaign)`` asks the provider for its own figure where it gives one, and
``quote_differs`` flags a gap over 1 %. ``check_balance`` compares the estimate with the
balance or the credits the provider reports. Money is Decimal in the account's currency.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform

from campaigns.models import Campaign, Channel, MessageStatus
from campaigns.segments import count, count_rendered
from campaigns.templating import Template, has_placeholders
from providers.base import AccountInfo, CampaignSpec, OutgoingMessage, Quote, VoicePayload
from providers.errors import NotSupported
from providers.models import Rate, RateCard
from providers.services import check_connection

QUOTE_TOLERANCE = Decimal("0.01")  # a provider quote further than 1 % from ours is flagged


@dataclass(frozen=True)
class PriceLine:
    """Recipients in one country priced by one rate."""

    country: str  # ISO code of the recipients, "" when unknown
    rate: str  # the rate that priced them: "KZ", or "+7701" for a prefix
    messages: int
    segments: int  # SMS parts (one per message for voice)
    price: Decimal  # per segment

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
class PriceEstimate:
    currency: str  # the account's; "" for a campaign without an account
    lines: tuple[PriceLine, ...]
    unpriced: tuple[UnpricedLine, ...]  # non-empty: sending needs the user's confirmation

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


def price(campaign: Campaign) -> PriceEstimate:
    """Crier's price for the campaign's pending messages, from the account's rate card.

    A plain SMS text is counted once; a template is rendered and counted per recipient under
    the campaign's placeholder policy. A voice message counts as one segment: every provider
    we support bills a voice message per call, not per minute of text.
    """
    card = RateCard.of(campaign.account)
    pending = campaign.messages.filter(status=MessageStatus.PENDING).order_by()
    messages: Counter[tuple[str, Rate | None]] = Counter()
    if campaign.channel == Channel.VOICE or not has_placeholders(campaign.text):
        per_message = 1 if campaign.channel == Channel.VOICE else count(campaign.text).parts
        for phone, country in pending.values_list("phone", "country").iterator(5000):
            messages[country, card.rate_for(phone, country)] += 1
        segments = {key: n * per_message for key, n in messages.items()}
    else:
        template = Template(campaign.text, campaign.placeholder_policy)
        texts: defaultdict[tuple[str, Rate | None], list[str]] = defaultdict(list)
        for phone, country, *values in _with_values(pending, template).iterator(5000):
            texts[country, card.rate_for(phone, country)].append(template.fill(values))
        messages.update({key: len(group) for key, group in texts.items()})
        segments = {key: count_rendered(group).total_parts for key, group in texts.items()}
    lines = [
        PriceLine(country, rate.destination, n, segments[country, rate], rate.price)
        for (country, rate), n in messages.items()
        if rate is not None
    ]
    unpriced = [
        UnpricedLine(country, n, segments[country, rate])
        for (country, rate), n in messages.items()
        if rate is None
    ]
    return PriceEstimate(
        currency=campaign.account.currency if campaign.account else "",
        lines=tuple(sorted(lines, key=lambda line: (line.country, line.rate))),
        unpriced=tuple(sorted(unpriced, key=lambda line: (-line.messages, line.country))),
    )


def _with_values(messages: QuerySet, template: Template, *first: str) -> QuerySet:
    """Rows of (*first, phone, country, value of each placeholder): the database pulls the
    values out of the JSON, several times faster than decoding every row's fields here.

    A missing key reads as None. The import stores every value as a string; a JSON null,
    which it never writes, would read as None on PostgreSQL but as "null" on SQLite.
    """
    values = {
        f"value_{i}": KeyTextTransform(name, "fields") for i, name in enumerate(template.names)
    }
    return messages.annotate(**values).values_list(*first, "phone", "country", *values)


# --- The provider's own figure -------------------------------------------------------------


def provider_quote(campaign: Campaign) -> Quote | None:
    """The provider's price for the campaign's pending messages, or None where it gives none
    (no quote at this provider, none for this channel, or no recipients yet).

    Makes HTTP calls (Mobizon builds a draft campaign and deletes it), so call it from a task
    or a button, not on every page view. Raises ProviderError when the provider fails.
    """
    account = campaign.account
    if account is None or not account.adapter_class.capabilities.quote:
        return None
    spec, outgoing = _outgoing(campaign)
    if not outgoing:
        return None
    try:
        with account.adapter() as adapter:
            return adapter.quote(spec, outgoing)
    except NotSupported:
        return None


def _outgoing(campaign: Campaign) -> tuple[CampaignSpec, list[OutgoingMessage]]:
    """The spec and messages as they will be sent: a template goes out rendered per recipient."""
    pending = campaign.messages.filter(status=MessageStatus.PENDING)
    spec = CampaignSpec(sender=campaign.sender, channel=campaign.channel, name=campaign.name)
    if campaign.channel == Channel.VOICE:
        voice = VoicePayload(
            text=campaign.text,
            ssml=campaign.ssml,
            announcement_id=campaign.announcement_id,
            voice=campaign.voice,
            language=campaign.language,
            category=campaign.voice_category or "marketing",
        )
        spec = replace(spec, voice=voice)
    elif not has_placeholders(campaign.text):
        spec = replace(spec, text=campaign.text)
    else:
        template = Template(campaign.text, campaign.placeholder_policy)
        rows = _with_values(pending, template, "reference")
        return spec, [
            OutgoingMessage(ref, phone, text=template.fill(v)) for ref, phone, _, *v in rows
        ]
    rows = pending.values_list("reference", "phone")
    return spec, [OutgoingMessage(ref, phone) for ref, phone in rows]


def quote_differs(estimate: PriceEstimate, quote: Quote) -> bool:
    """True when the provider's figure is more than 1 % away from Crier's, or in another
    currency. Against a zero estimate, any non-zero quote differs."""
    if quote.currency and estimate.currency and quote.currency.upper() != estimate.currency:
        return True
    ours = estimate.total
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


def current_funds(campaign: Campaign) -> AccountInfo | None:
    """The balance or credits the provider reports now (and stores on the account), or None
    when the provider cannot report one. Raises ProviderError when the provider fails."""
    account = campaign.account
    if account is None or not account.adapter_class.capabilities.account_info:
        return None
    return check_connection(account)


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
