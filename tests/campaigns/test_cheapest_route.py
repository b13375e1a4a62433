"""The cheapest route (campaigns.compose.routes and pricing): which accounts may carry which
country, which one is chosen, and what the launch does with the choice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from campaigns import services
from campaigns.compose import pricing, routes
from campaigns.compose.pricing import PriceEstimate, PriceLine, price
from campaigns.models import Message
from campaigns.sending import engine as sending
from providers.base import AccountInfo
from providers.models import ProviderAccount, SenderName
from tests.api.conftest import client_for
from tests.campaigns.test_pricing import set_rates

D = Decimal
RICH = AccountInfo(currency="EUR", balance=D("1000"))
TWO_PARTS = "Autumn sale: " + "everything must go! " * 10  # 213 GSM characters


def add_account(tenant, name, *, currency="EUR", provider="bsg", sender="approved", **fields):
    account = ProviderAccount(
        workspace=tenant.workspace, provider=provider, name=name, currency=currency, **fields
    )
    account.credentials = {"api_key": f"live_{name}_key_0000"}
    account.save()
    if sender:
        SenderName.objects.create(account=account, value=tenant.sender.value, status=sender)
    return account


def add(campaign, country: str, n: int, prefix: str) -> None:
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"{prefix}{i:07d}", country=country) for i in range(n)
    )


@pytest.fixture
def campaign(acme):
    acme.account.currency = "EUR"
    acme.account.save()
    campaign = acme.campaign
    campaign.text, campaign.sender, campaign.cheapest_route = TWO_PARTS, acme.sender.value, True
    campaign.save()
    set_rates(acme.account, KZ="0.035", UZ="0.050")
    add(campaign, "KZ", 3, "+7701")
    add(campaign, "UZ", 2, "+99890")
    return campaign


def routes_of(estimate) -> dict[str, tuple[int | None, int, Decimal]]:
    return {r.country: (r.account, r.segments, r.cost) for r in estimate.routes}


def test_each_country_goes_through_the_account_cheapest_for_its_parts(campaign, acme):
    cheap_kz = add_account(acme, "Cheap KZ")
    set_rates(cheap_kz, KZ="0.030", UZ="0.060")

    estimate = price(campaign)

    assert routes_of(estimate) == {
        "KZ": (cheap_kz.pk, 6, D("0.180")),  # 3 messages x 2 parts x 0.030
        "UZ": (None, 4, D("0.200")),  # the campaign's own account is cheaper there
    }
    assert estimate.single_total == D("0.410")  # 6 x 0.035 + 4 x 0.050
    assert estimate.total == D("0.380")
    assert estimate.saving == D("0.030")


def test_off_by_default_every_message_stays_with_the_campaigns_account(campaign, acme):
    campaign.cheapest_route = False
    set_rates(add_account(acme, "Cheap"), KZ="0.001", UZ="0.001")

    estimate = price(campaign)

    assert {line.account for line in estimate.lines} == {None}
    assert estimate.single_total is None and not estimate.routed


def test_a_tie_keeps_the_campaigns_own_account(campaign, acme):
    set_rates(add_account(acme, "Same"), KZ="0.035", UZ="0.050")

    assert {r.account for r in price(campaign).routes} == {None}


def test_between_other_accounts_a_tie_goes_to_the_first_by_name(campaign, acme):
    later, earlier = add_account(acme, "Zeta"), add_account(acme, "Alpha")
    set_rates(later, KZ="0.020")
    set_rates(earlier, KZ="0.020")

    assert routes_of(price(campaign))["KZ"][0] == earlier.pk


def test_an_account_without_a_rate_for_every_number_of_the_country_is_not_chosen(campaign, acme):
    partial = add_account(acme, "Kcell only")
    set_rates(partial, p7701="0.001")  # cheap for +7701, no rate for the +7777 number
    add(campaign, "KZ", 1, "+7777")
    missing = add_account(acme, "No UZ")
    set_rates(missing, KZ="0.034")

    assert routes_of(price(campaign))["KZ"][0] == missing.pk
    assert routes_of(price(campaign))["UZ"][0] is None


def test_an_account_in_another_currency_is_never_compared(campaign, acme):
    set_rates(add_account(acme, "Tenge", currency="KZT"), KZ="0.001", UZ="0.001")

    assert routes.others_of(campaign) == []
    assert {r.account for r in price(campaign).routes} == {None}


def test_a_country_the_account_may_not_send_to_is_not_routed_through_it(campaign, acme):
    set_rates(add_account(acme, "UZ only", allowed_countries="UZ"), KZ="0.001", UZ="0.040")

    chosen = routes_of(price(campaign))

    assert chosen["KZ"][0] is None and chosen["UZ"][0] is not None


@pytest.mark.parametrize("sender", ["pending", "rejected", None])
def test_an_account_without_the_sender_name_approved_is_not_a_candidate(campaign, acme, sender):
    set_rates(add_account(acme, "Unapproved", sender=sender), KZ="0.001", UZ="0.001")

    assert routes.others_of(campaign) == []
    assert {r.account for r in price(campaign).routes} == {None}


def test_inactive_accounts_and_other_workspaces_accounts_are_not_candidates(campaign, acme, globex):
    set_rates(add_account(acme, "Off", is_active=False), KZ="0.001")
    foreign = add_account(globex, "Foreign")
    SenderName.objects.create(account=foreign, value=acme.sender.value, status="approved")
    set_rates(foreign, KZ="0.001")

    assert routes.others_of(campaign) == []


def test_an_account_whose_provider_would_refuse_the_campaign_is_not_a_candidate(campaign, acme):
    set_rates(add_account(acme, "Voice only", provider="conpeek"), KZ="0.001")

    assert routes.others_of(campaign) == []


def test_a_country_the_campaigns_account_cannot_price_stays_with_it(campaign, acme):
    add(campaign, "RU", 1, "+7916")
    set_rates(add_account(acme, "Has RU"), RU="0.010")

    estimate = price(campaign)

    assert [(x.country, x.messages) for x in estimate.unpriced] == [("RU", 1)]
    assert "RU" not in routes_of(estimate)
    assert estimate.single_total == estimate.total  # no saving on what cannot be compared


def test_the_split_survives_storage(campaign, acme):
    cheap = add_account(acme, "Cheap")
    set_rates(cheap, KZ="0.030")
    estimate = price(campaign)

    assert PriceEstimate.from_json(estimate.as_json()) == estimate
    old = {"currency": "EUR", "lines": [["KZ", "KZ", 1, 1, "0.035"]], "unpriced": []}
    assert PriceEstimate.from_json(old).lines == (PriceLine("KZ", "KZ", 1, 1, D("0.035")),)


def test_another_accounts_new_rate_makes_the_stored_estimate_stale(campaign, acme):
    cheap = add_account(acme, "Cheap")
    set_rates(cheap, KZ="0.036")
    assert not pricing.estimate(campaign).routed

    set_rates(cheap, KZ="0.030")

    assert pricing.estimate(campaign).routed


# --- The launch ----------------------------------------------------------------------------


@pytest.fixture
def funds(monkeypatch):
    """Every other account's provider reports a rich balance (the HTTP call's answer)."""
    given = {}
    monkeypatch.setattr(pricing, "funds_of", lambda account: given.get(account.pk, RICH))
    return given


def test_the_launch_rewrites_no_message_and_each_claim_takes_one_route(campaign, acme, funds):
    """The launch only freezes the split: moving a million messages to their accounts there
    took 24-45 s of the launch request (bench/routes.py). Each claim takes one route's
    messages by country and names the account in the UPDATE it makes anyway."""
    cheap = add_account(acme, "Cheap")
    set_rates(cheap, KZ="0.030", UZ="0.049")
    add(campaign, "RU", 1, "+7916")  # no rate anywhere: stays with the campaign's account

    with CaptureQueriesContext(connection) as queries:
        launched = services.launch(campaign, acme.user("sender"), funds=RICH, confirm_unpriced=True)

    rewritten = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "campaigns_message" SET "account_id"')
    ]
    assert rewritten == []
    split = [
        (r["country"], r["account"], r["account_name"], r["messages"], r["segments"], r["cost"])
        for r in launched.estimate["routes"]
    ]
    assert [(*r[:5], D(r[5])) for r in split] == [
        ("KZ", cheap.pk, "Cheap", 3, 6, D("0.180")),
        ("UZ", cheap.pk, "Cheap", 2, 4, D("0.196")),
    ]
    assert D(launched.estimate["single_total"]) == D("0.410")
    assert D(launched.estimate["saving"]) == D("0.034")
    event = AuditEvent.objects.get(action="campaign_launched")
    assert event.details["routes"] == launched.estimate["routes"]
    assert event.details["saving"] == launched.estimate["saving"]

    claimed = []
    while taken := sending.claim(launched):
        batch = taken[0]
        claimed.append((batch.account_id, sorted(batch.messages.values_list("country", flat=True))))
    assert sorted(claimed) == sorted(
        [(cheap.pk, ["KZ", "KZ", "KZ", "UZ", "UZ"]), (acme.account.pk, ["RU"])]
    )
    accounts = dict(launched.messages.values_list("country", "account"))
    assert accounts == {"KZ": cheap.pk, "UZ": cheap.pk, "RU": None}


def test_a_route_account_short_of_funds_blocks_the_launch(campaign, acme, funds):
    cheap = add_account(acme, "Cheap")
    set_rates(cheap, KZ="0.030")
    funds[cheap.pk] = AccountInfo(currency="EUR", balance=D("0.01"))

    with pytest.raises(services.CampaignRuleError, match=r"Cheap, which sends part of this"):
        services.launch(campaign, acme.user("sender"), funds=RICH)

    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert not campaign.messages.filter(account__isnull=False).exists()


def test_a_credit_account_on_a_route_needs_a_credit_per_part(campaign, acme, funds):
    drop = add_account(acme, "Drop", provider="smsdrop")  # rates: what a credit costs in EUR
    set_rates(drop, KZ="0.010")
    funds[drop.pk] = AccountInfo(credits=5)

    with pytest.raises(services.CampaignRuleError, match=r"Drop, which sends part.* 5 SMS credits"):
        services.launch(campaign, acme.user("sender"), funds=RICH)
    funds[drop.pk] = AccountInfo(credits=6)  # KZ: 3 messages x 2 parts
    assert services.launch(campaign, acme.user("sender"), funds=RICH).status == "scheduled"


def test_a_clone_keeps_the_option(campaign, acme):
    assert services.clone(campaign, acme.user("sender")).cheapest_route


def test_the_own_account_pays_only_its_share(campaign, acme, funds):
    set_rates(add_account(acme, "Cheap"), KZ="0.030")
    own_share = AccountInfo(currency="EUR", balance=D("0.20"))  # UZ: 4 parts x 0.050

    launched = services.launch(campaign, acme.user("sender"), funds=own_share)

    assert launched.status == "scheduled"


# --- The option and the preview --------------------------------------------------------------


def test_the_options_step_turns_the_cheapest_route_on_and_off(as_role, campaign):
    client, url = as_role("sender"), reverse("campaign_options", args=[campaign.pk])

    client.post(url, {"rate_limit": ""}, headers={"HX-Request": "true"})
    campaign.refresh_from_db()
    assert not campaign.cheapest_route
    response = client.post(url, {"cheapest_route": "on"}, headers={"HX-Request": "true"})
    campaign.refresh_from_db()
    assert campaign.cheapest_route and 'data-testid="saved"' in response.text


def test_the_preview_shows_the_split_and_the_saving(as_role, campaign, acme, funds):
    set_rates(add_account(acme, "Cheap KZ"), KZ="0.030")

    page = as_role("viewer").get(reverse("campaign_preview", args=[campaign.pk])).text

    assert page.count('data-testid="route-row"') == 2
    assert "Cheap KZ" in page and "The cheapest route saves 0.03 EUR" in page


def test_the_preview_says_when_no_other_account_qualifies(as_role, campaign, acme, funds):
    set_rates(add_account(acme, "Pending", sender="pending"), KZ="0.001")

    page = as_role("viewer").get(reverse("campaign_preview", args=[campaign.pk])).text

    assert 'data-testid="route-none"' in page and "Pending" not in page


def test_the_api_sets_the_option_and_refuses_a_bad_value_by_name(campaign, acme):
    api = client_for(acme)
    url = f"/api/v1/campaigns/{campaign.pk}"

    assert api.patch(url, {"cheapest_route": True}, format="json").json()["cheapest_route"]
    refused = api.patch(url, {"cheapest_route": "perhaps"}, format="json")

    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["cheapest_route"]


def test_the_apis_price_names_each_lines_account_and_the_single_account_total(campaign, acme):
    cheap = add_account(acme, "Cheap")
    set_rates(cheap, KZ="0.030")

    price = client_for(acme).get(f"/api/v1/campaigns/{campaign.pk}/price").json()

    assert {(x["country"], x["account"]) for x in price["lines"]} == {
        ("KZ", cheap.pk),
        ("UZ", None),
    }
    assert D(price["single_total"]) == D("0.41") and D(price["total"]) == D("0.38")
