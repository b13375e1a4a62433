"""campaigns.compose.pricing: parts x the account's rate per destination, the provider's own
quote beside it, and whether the balance or the credits cover it."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.compose import pricing
from campaigns.compose.pricing import PriceLine, UnpricedLine, check_balance, price, quote_differs
from campaigns.compose.templating import render
from campaigns.models import Campaign, Message, PlaceholderPolicy
from core.sms_parts import count
from core.statuses import MessageStatus
from providers.base import AccountInfo, Quote
from providers.models import ProviderAccount, Rate, RateCard
from providers.sandbox.accounts import provision

D = Decimal
KZ_KCELL, KZ_BEELINE, KZ_ALTEL = "+77011234567", "+77771234567", "+77001234567"
UZ, RU = "+998901234567", "+79161234567"


def set_rates(account: ProviderAccount, channel: str = "sms", **by_destination: str) -> None:
    """``set_rates(account, KZ="0.035", p7701="0.031")``: countries by code, prefixes as pNNN."""
    account.rates.filter(channel=channel).delete()
    for key, value in by_destination.items():
        prefix = key.removeprefix("p") if key.startswith("p") else ""
        country = "" if prefix else key
        Rate.objects.create(
            account=account, channel=channel, country=country, prefix=prefix, price=D(value)
        )


def add_recipients(campaign: Campaign, *recipients, **common) -> None:
    """Each recipient is a phone or (phone, fields); the country comes from the number."""
    rows = []
    for recipient in recipients:
        phone, fields = recipient if isinstance(recipient, tuple) else (recipient, {})
        country = {"+7701": "KZ", "+7777": "KZ", "+7700": "KZ", "+998": "UZ", "+7916": "RU"}
        code = next(c for p, c in country.items() if phone.startswith(p))
        rows.append(Message(campaign=campaign, phone=phone, country=code, fields=fields, **common))
    Message.objects.bulk_create(rows)


@pytest.fixture
def campaign(acme) -> Campaign:
    return Campaign.objects.create(
        workspace=acme.workspace, name="Pricing", account=acme.account, text="Sale today"
    )


def test_a_prefix_beats_its_country(campaign):
    set_rates(campaign.account, KZ="0.035", p7701="0.031")
    add_recipients(campaign, KZ_KCELL, KZ_BEELINE)

    estimate = price(campaign)

    assert estimate.lines == (
        PriceLine("KZ", "+7701", messages=1, segments=1, price=D("0.031")),
        PriceLine("KZ", "KZ", messages=1, segments=1, price=D("0.035")),
    )
    assert estimate.total == D("0.066")
    assert estimate.currency == "USD"


def test_the_longest_prefix_wins(campaign):
    set_rates(campaign.account, p7="0.05", p770="0.04", p7701="0.03", KZ="0.09")
    add_recipients(campaign, KZ_KCELL, KZ_ALTEL, RU)

    rates = {(line.country, line.rate): line.price for line in price(campaign).lines}

    assert rates == {("KZ", "+7701"): D("0.03"), ("KZ", "+770"): D("0.04"), ("RU", "+7"): D("0.05")}


def test_lines_group_messages_and_parts_per_country(campaign):
    campaign.text = "Autumn sale: " + "everything must go! " * 10  # 213 GSM characters: 2 parts
    set_rates(campaign.account, KZ="0.035", UZ="0.05")
    add_recipients(campaign, KZ_KCELL, KZ_BEELINE, KZ_ALTEL, UZ, "+998911234567")

    estimate = price(campaign)

    assert estimate.lines == (
        PriceLine("KZ", "KZ", messages=3, segments=6, price=D("0.035")),
        PriceLine("UZ", "UZ", messages=2, segments=4, price=D("0.05")),
    )
    assert [line.subtotal for line in estimate.lines] == [D("0.21"), D("0.20")]
    assert estimate.total == D("0.41")
    assert (estimate.messages, estimate.segments) == (5, 10)


def test_a_template_is_priced_on_every_recipient_s_own_text(campaign):
    campaign.text = "Hello {name}, your code is {code}. " + "x" * 120
    set_rates(campaign.account, KZ="0.035")
    people = [
        (KZ_KCELL, {"name": "Ann", "code": "12"}),  # 148 GSM characters: 1 part
        (KZ_BEELINE, {"name": "Maximilian-Alexander", "code": "1234"}),  # 167: 2 parts
        (KZ_ALTEL, {"name": "Айгерим", "code": "7"}),  # Cyrillic: UCS-2, 151 units: 3 parts
    ]
    add_recipients(campaign, *people)

    (line,) = price(campaign).lines

    expected = [count(render(campaign.text, fields)).parts for _, fields in people]
    assert expected == [1, 2, 3]
    assert (line.messages, line.segments) == (3, 6)
    assert line.subtotal == D("0.210")


@pytest.mark.parametrize(
    ("policy", "parts"), [(PlaceholderPolicy.KEEP, 2), (PlaceholderPolicy.STRIP, 1)]
)
def test_a_missing_value_is_priced_as_the_policy_renders_it(campaign, policy, parts):
    campaign.text = "Hi {name}! " + "y" * 150  # 155 with the name stripped, 161 kept
    campaign.placeholder_policy = policy
    set_rates(campaign.account, KZ="0.035")
    add_recipients(campaign, (KZ_KCELL, {"name": "  "}))

    kept = render(campaign.text, {"name": ""}, policy).startswith("Hi {name}!")
    assert kept is (policy == PlaceholderPolicy.KEEP)
    assert price(campaign).lines[0].segments == parts


def test_template_values_are_read_whatever_their_json_type(campaign):
    campaign.text = "Order {order} for {name}: " + "w" * 137  # 157 stripped; 163 if kept
    campaign.placeholder_policy = PlaceholderPolicy.STRIP
    set_rates(campaign.account, KZ="0.035")
    add_recipients(campaign, (KZ_KCELL, {"order": 1234567}))  # a number, and no name
    assert price(campaign).segments == 1
    assert render(campaign.text, {"order": 1234567}, PlaceholderPolicy.STRIP).startswith(
        "Order 1234567 for : "
    )


def test_destinations_without_a_rate_are_listed_and_need_confirmation(campaign):
    set_rates(campaign.account, KZ="0.035")
    add_recipients(campaign, KZ_KCELL, UZ, "+998911234567", RU)

    estimate = price(campaign)

    assert estimate.unpriced == (
        UnpricedLine("UZ", messages=2, segments=2),
        UnpricedLine("RU", messages=1, segments=1),
    )
    assert estimate.needs_confirmation
    assert estimate.unpriced_messages == 3
    assert estimate.total == D("0.035")  # the priced part only


def test_a_full_rate_card_needs_no_confirmation(campaign):
    set_rates(campaign.account, KZ="0.035")
    add_recipients(campaign, KZ_KCELL)
    assert not price(campaign).needs_confirmation


def test_voice_is_priced_per_call_from_the_voice_rates(campaign):
    campaign.channel = "voice"
    campaign.text = "This is a long announcement. " * 20  # many SMS parts, one call
    set_rates(campaign.account, KZ="0.035")
    set_rates(campaign.account, "voice", KZ="0.06")
    add_recipients(campaign, KZ_KCELL, KZ_BEELINE, KZ_ALTEL)

    (line,) = price(campaign).lines

    # Priced at the SMS rate, these three calls were estimated 0.105 and billed 0.18 (#14).
    assert (line.messages, line.segments, line.subtotal) == (3, 3, D("0.18"))


def test_a_voice_campaign_without_voice_rates_is_unpriced(campaign):
    campaign.channel = "voice"
    set_rates(campaign.account, KZ="0.035")
    add_recipients(campaign, KZ_KCELL)

    estimate = price(campaign)

    assert (estimate.lines, estimate.unpriced_messages) == ((), 1)


def test_an_sms_campaign_ignores_the_voice_rates(campaign):
    set_rates(campaign.account, KZ="0.035")
    set_rates(campaign.account, "voice", KZ="0.06")
    add_recipients(campaign, KZ_KCELL)

    assert price(campaign).total == D("0.035")


def test_only_messages_still_to_send_are_priced(campaign):
    set_rates(campaign.account, KZ="0.035")
    add_recipients(campaign, KZ_KCELL)
    add_recipients(campaign, KZ_BEELINE, status=MessageStatus.DELIVERED)
    assert price(campaign).messages == 1


def test_a_campaign_without_recipients_costs_nothing(campaign):
    estimate = price(campaign)
    assert (estimate.lines, estimate.unpriced, estimate.total) == ((), (), D(0))


def priced_one_by_one(campaign: Campaign) -> dict:
    """The definition, one recipient at a time: (country, rate) -> (messages, parts)."""
    card = RateCard.of(campaign.account)
    messages: Counter = Counter()
    parts: Counter = Counter()
    for m in campaign.messages.filter(status=MessageStatus.PENDING):
        rate = card.rate_for(m.phone, m.country)
        key = (m.country, rate.destination if rate else None)
        messages[key] += 1
        parts[key] += count(render(campaign.text, m.fields, campaign.placeholder_policy)).parts
    return {key: (n, parts[key]) for key, n in messages.items()}


# Values that change the encoding, the length or the fallback: blank and whitespace (the
# fallback), UCS-2 letters, an emoji (2 units), GSM extension characters (2 septets, never
# split), a JSON number and a JSON null, a missing key, and lengths around the part limits.
VALUES = ["Ann", "", "   ", "\t", "Айгерим", "😀", "{x}", "€uro", "José", 12345, None]
VALUES += ["a" * 80, "b" * 86 + "€", "ü" * 120]
NUMBERS = [("+7701", "KZ"), ("+7747", "KZ"), ("+7700", "KZ"), ("+99890", "UZ"), ("+7916", "RU")]
NUMBERS += [("+5511", "BR"), ("+4420", "")]


@pytest.mark.parametrize("policy", [PlaceholderPolicy.KEEP, PlaceholderPolicy.STRIP])
def test_price_agrees_with_pricing_every_recipient_alone(campaign, monkeypatch, policy):
    monkeypatch.setattr(pricing, "CHUNK", 37)  # read in many chunks
    campaign.text = "Hi {name}! Your code is {code}. " + "x" * 90
    campaign.placeholder_policy = policy
    set_rates(campaign.account, KZ="0.035", p7701="0.031", p77="0.04", UZ="0.05")
    rng = random.Random(5)
    rows = []
    for n in range(400):
        start, country = rng.choice(NUMBERS)
        fields = {"name": rng.choice(VALUES), "code": rng.choice(VALUES)}
        if n % 17 == 0:
            del fields["code"]
        rows.append(
            Message(campaign=campaign, phone=f"{start}{n:07d}", country=country, fields=fields)
        )
    Message.objects.bulk_create(rows)

    estimate = price(campaign)

    lines = {(x.country, x.rate): (x.messages, x.segments) for x in estimate.lines}
    lines |= {(x.country, None): (x.messages, x.segments) for x in estimate.unpriced}
    assert lines == priced_one_by_one(campaign)
    assert sum(n for n, _ in lines.values()) == 400


def test_progress_is_told_after_each_chunk(campaign, monkeypatch):
    monkeypatch.setattr(pricing, "CHUNK", 2)
    campaign.text = "Hi {name}"
    add_recipients(campaign, KZ_KCELL, KZ_BEELINE, KZ_ALTEL, UZ, RU)
    told = []

    price(campaign, progress=told.append)

    assert told == [2, 4, 5]


def test_an_estimate_is_stored_and_read_back_exactly(campaign):
    campaign.text = "Autumn sale: " + "everything must go! " * 10
    set_rates(campaign.account, KZ="0.035", p7701="0.0315")
    add_recipients(campaign, KZ_KCELL, KZ_BEELINE, UZ)
    estimate = price(campaign)

    assert pricing.PriceEstimate.from_json(estimate.as_json()) == estimate
    assert estimate.as_json()["total"] == str(estimate.total)


# --- The provider's figure ----------------------------------------------------------------


def estimate_of(total: str, currency: str = "USD") -> pricing.PriceEstimate:
    line = PriceLine("KZ", "KZ", messages=1, segments=1, price=D(total))
    return pricing.PriceEstimate(currency, (line,), ())


@pytest.mark.parametrize(
    ("quoted", "differs"),
    [("10.00", False), ("10.10", False), ("9.90", False), ("10.11", True), ("9.89", True)],
)
def test_a_quote_more_than_one_percent_away_is_flagged(quoted, differs):
    assert quote_differs(estimate_of("10.00"), Quote(D(quoted), "USD")) is differs


def test_a_quote_in_another_currency_is_flagged():
    assert quote_differs(estimate_of("10.00"), Quote(D("10.00"), "EUR"))


def test_any_quote_differs_from_a_zero_estimate():
    assert quote_differs(estimate_of("0"), Quote(D("0.01"), "USD"))
    assert not quote_differs(estimate_of("0"), Quote(D("0"), "USD"))


@pytest.fixture
def sandbox_campaign(transactional_db, live_server, acme):
    def make(slug: str, text: str, *recipients, currency: str = "USD") -> Campaign:
        account = ProviderAccount(
            workspace=acme.workspace,
            provider=slug,
            name=f"{slug} pricing",
            currency=currency,
            api_base_url=f"{live_server.url}/sandbox/{slug}",
        )
        account.credentials = provision(slug, name=f"pricing-{slug}")
        account.save()
        campaign = Campaign.objects.create(
            workspace=acme.workspace, name="Quote", account=account, sender="Crier", text=text
        )
        add_recipients(campaign, *recipients)
        return campaign

    return make


def test_bsg_quotes_what_the_rate_card_says(sandbox_campaign):
    campaign = sandbox_campaign("bsg", "Sale today", KZ_KCELL, KZ_BEELINE, UZ, currency="EUR")
    set_rates(campaign.account, KZ="0.035", UZ="0.035")  # the sandbox's price of one part

    quote = pricing.provider_quote(campaign)
    estimate = price(campaign)

    assert quote.total == D("0.105") == estimate.total
    assert quote.currency == "EUR"
    assert not quote_differs(estimate, quote)


def test_a_stale_rate_card_is_flagged_against_bsg(sandbox_campaign):
    campaign = sandbox_campaign("bsg", "Sale today", KZ_KCELL, KZ_BEELINE, currency="EUR")
    set_rates(campaign.account, KZ="0.0346")  # the sandbox bills 0.035: 1.2 % more
    quote = pricing.provider_quote(campaign)
    assert quote.currency == "EUR"
    assert quote_differs(price(campaign), quote)


def test_mobizon_prices_a_template_per_recipient(sandbox_campaign):
    people = [
        (KZ_KCELL, {"name": "Ann"}),
        (KZ_BEELINE, {"name": "Айгерим"}),  # UCS-2: the text takes 3 parts
    ]
    text = "Hello {name}! " + "z" * 140
    campaign = sandbox_campaign("mobizon", text, *people, currency="KZT")
    set_rates(campaign.account, KZ="16.2")  # the sandbox's price of one part at mobizon.kz

    quote = pricing.provider_quote(campaign)
    estimate = price(campaign)

    assert estimate.segments == 1 + 3
    assert quote.total == estimate.total == D("64.8")
    assert quote.currency == "KZT"
    assert not quote_differs(estimate, quote)


def test_the_quote_covers_the_live_audience_with_each_contacts_values(sandbox_campaign, acme):
    from contacts.models import Contact, ContactList, ListMember

    text = "Hello {name}, see you in {city}! " + "z" * 120
    campaign = sandbox_campaign(
        "mobizon", text, (KZ_KCELL, {"name": "Ann", "city": "Almaty"}), currency="KZT"
    )
    set_rates(campaign.account, KZ="16.2")
    people = [
        Contact.objects.create(
            workspace=acme.workspace, phone=phone, country="KZ", name=name, fields=fields
        )
        for phone, name, fields in [
            (KZ_BEELINE, "Айгерим", {"city": "Астана"}),  # UCS-2: 3 parts
            (KZ_ALTEL, "Bo", {"city": "Shymkent"}),  # 1 part
            (KZ_KCELL, "Ann", {"city": "Almaty"}),  # the file holds this number already
            ("+77011234500", "Out", {"city": "Almaty"}),
        ]
    ]
    Contact.objects.filter(pk=people[3].pk).update(opted_out_at=timezone.now())
    members = ContactList.objects.create(workspace=acme.workspace, name="Members")
    ListMember.objects.bulk_create(ListMember(contact_list=members, contact=p) for p in people)
    campaign.audience_lists.add(members)

    quote = pricing.provider_quote(campaign)
    estimate = price(campaign)

    assert estimate.messages == 3 and estimate.segments == 1 + 3 + 1
    assert quote.total == estimate.total == D("81.0")
    assert not quote_differs(estimate, quote)
    # Nothing was made of the audience: it becomes messages at the launch.
    assert campaign.messages.count() == 1


def test_a_provider_without_quotes_gives_none(sandbox_campaign):
    campaign = sandbox_campaign("smsdrop", "Sale today", KZ_KCELL)
    assert pricing.provider_quote(campaign) is None


# --- Balance and credits ------------------------------------------------------------------


def test_a_balance_that_covers_the_estimate_lets_it_through():
    check = check_balance(estimate_of("10.00"), AccountInfo(currency="USD", balance=D("10.00")))
    assert check.covered is True
    assert not check.blocks_sending
    assert check.message == ""


def test_a_short_balance_blocks_sending_and_says_by_how_much():
    check = check_balance(estimate_of("12.503"), AccountInfo(currency="USD", balance=D("10")))
    assert check.blocks_sending
    assert check.message == (
        "The balance is 10.00 USD and this campaign costs 12.50 USD: "
        "top up at least 2.51 USD before sending."
    )


def test_credits_are_counted_in_sms_parts():
    line = PriceLine("KZ", "KZ", messages=3, segments=6, price=D("1"))
    estimate = pricing.PriceEstimate("USD", (line,), ())
    assert check_balance(estimate, AccountInfo(credits=6)).covered is True
    check = check_balance(estimate, AccountInfo(credits=5))
    assert check.blocks_sending
    assert check.unit == "SMS credits"
    assert check.message == (
        "The account has 5 SMS credits and this campaign needs 6 (one per SMS part): "
        "add 1 credits before sending."
    )


def test_a_balance_in_another_currency_cannot_be_compared():
    check = check_balance(estimate_of("1"), AccountInfo(currency="KZT", balance=D("5000")))
    assert check.covered is None
    assert "in KZT but the rates are in USD" in check.message


def test_no_balance_reported_is_said_plainly():
    check = check_balance(estimate_of("3"), None)
    assert check.covered is None
    assert not check.blocks_sending
    assert "at least 3.00 USD" in check.message


def test_unpriced_messages_are_mentioned_even_when_covered():
    estimate = pricing.PriceEstimate(
        "USD", estimate_of("1").lines, (UnpricedLine("UZ", messages=4, segments=4),)
    )
    check = check_balance(estimate, AccountInfo(currency="USD", balance=D("100")))
    assert check.covered is True
    assert "4 have no rate" in check.message


def test_smsdrop_credits_come_from_the_sandbox(sandbox_campaign):
    campaign = sandbox_campaign("smsdrop", "Sale today", KZ_KCELL, KZ_BEELINE)
    info = pricing.current_funds(campaign)
    check = check_balance(price(campaign), info)
    assert info.credits == 10_000
    assert check.covered is True
    assert (check.needed, check.unit) == (D(2), "SMS credits")


def test_conpeek_reports_no_funds(sandbox_campaign):
    campaign = sandbox_campaign("conpeek", "Hello", KZ_KCELL)
    assert pricing.current_funds(campaign) is None
