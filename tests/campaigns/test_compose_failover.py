"""Compose step 4's failover: a backup account of the same workspace that sends the campaign's
channel, a sender name it has approved, a rule that can trip; shown in the preview and on the
launch page before anything is sent."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.compose import pricing
from campaigns.models import Campaign, Message
from providers.base import AccountInfo
from providers.models import ProviderAccount, SenderName
from tests.campaigns.test_pricing import set_rates
from workspaces.models import Role


def post(client, campaign, data):
    return client.post(
        reverse("campaign_options", args=[campaign.pk]), data, headers={"HX-Request": "true"}
    )


def fresh(campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def rule_of(backup, **fields) -> dict:
    """Step 4's failover fields: ``backup`` sending as AcmeAlt, and ``fields``."""
    return {"backup_account": backup.pk, "backup_sender": "AcmeAlt", **fields}


def backed_up(campaign, backup, **fields) -> None:
    """The campaign has ``backup`` as its backup account, sending as AcmeAlt, and ``fields``."""
    Campaign.objects.filter(pk=campaign.pk).update(
        backup_account=backup, backup_sender="AcmeAlt", **fields
    )


@pytest.fixture
def backup(acme) -> ProviderAccount:
    account = ProviderAccount(workspace=acme.workspace, provider="mobizon", name="Acme Backup")
    account.credentials = {"api_key": "k" * 40, "domain": "mobizon.kz"}
    account.save()
    SenderName.objects.create(account=account, value="AcmeAlt", status="approved")
    SenderName.objects.create(account=account, value="AcmeWait", status="pending")
    return account


def test_a_backup_account_sender_and_rule_are_saved(as_role, acme, backup):
    response = post(
        as_role(Role.SENDER),
        acme.campaign,
        rule_of(backup, failover_errors=4, failover_minutes=15, failover_on_account_error="on"),
    )

    assert 'data-testid="saved"' in response.text
    campaign = fresh(acme.campaign)
    assert (campaign.backup_account, campaign.backup_sender) == (backup, "AcmeAlt")
    assert (campaign.failover_errors, campaign.failover_minutes) == (4, 15)
    assert campaign.failover_on_account_error


def test_another_workspaces_account_is_no_backup(as_role, acme, globex):
    response = post(as_role(Role.SENDER), acme.campaign, {"backup_account": globex.account.pk})

    assert "Select a valid choice" in response.text
    assert fresh(acme.campaign).backup_account is None


def test_the_primary_is_not_its_own_backup(as_role, acme):
    response = post(as_role(Role.SENDER), acme.campaign, {"backup_account": acme.account.pk})

    assert "Select a valid choice" in response.text


def test_a_backup_that_cannot_send_the_channel_is_refused_by_name(as_role, acme):
    voice_only = ProviderAccount(workspace=acme.workspace, provider="conpeek", name="Calls")
    voice_only.credentials = {"api_key": "k" * 20, "tenant_url": "https://acme.conpeek.com"}
    voice_only.save()

    response = post(as_role(Role.SENDER), acme.campaign, {"backup_account": voice_only.pk})

    assert "Calls (Conpeek) cannot send SMS: choose an account that can." in response.text
    assert fresh(acme.campaign).backup_account is None


def test_the_backup_sender_must_be_approved_by_the_backup(as_role, acme, backup):
    Campaign.objects.filter(pk=acme.campaign.pk).update(sender="AcmeInfo")
    client = as_role(Role.SENDER)

    pending = post(
        client, acme.campaign, {"backup_account": backup.pk, "backup_sender": "AcmeWait"}
    )
    # Empty: the campaign's own sender name, which the backup has not approved either.
    own = post(client, acme.campaign, {"backup_account": backup.pk, "backup_sender": ""})

    assert "“AcmeWait” is not an approved sender name of Acme Backup" in pending.text
    assert "“AcmeInfo” is not an approved sender name of Acme Backup" in own.text
    assert fresh(acme.campaign).backup_account is None


def test_a_backup_sender_without_a_backup_account_is_refused(as_role, acme):
    response = post(as_role(Role.SENDER), acme.campaign, {"backup_sender": "AcmeAlt"})

    assert "Choose a backup account for this sender name." in response.text


def test_a_rule_that_can_never_trip_is_refused(as_role, acme, backup):
    response = post(
        as_role(Role.SENDER),
        acme.campaign,
        rule_of(backup, failover_errors=0, failover_minutes=0),
    )

    assert "the campaign would never fail over" in response.text
    assert fresh(acme.campaign).backup_account is None


def test_the_preview_and_the_launch_page_state_the_backup_and_the_rule(as_role, acme, backup):
    backed_up(acme.campaign, backup, failover_errors=4, failover_minutes=15)
    client = as_role(Role.SENDER)

    preview = client.get(reverse("campaign_preview", args=[acme.campaign.pk])).text
    launch = client.get(reverse("campaign_launch", args=[acme.campaign.pk])).text

    rule = (
        "If Acme BSG fails (after 4 temporary errors in a row, or after 15 minutes of failing, "
        "or at once when out of balance or credentials are refused), the messages not yet "
        "handed over move to Acme Backup (Mobizon) as “AcmeAlt”"
    )
    assert rule in preview.replace("&#x27;", "'")
    assert rule in launch


def test_a_clone_keeps_the_backup_and_the_rule(acme, backup):
    from campaigns import services

    backed_up(acme.campaign, backup, failover_errors=7)

    copy = services.clone(fresh(acme.campaign), acme.user(Role.SENDER))

    assert (copy.backup_account, copy.backup_sender, copy.failover_errors) == (
        backup,
        "AcmeAlt",
        7,
    )


RICH = AccountInfo(currency="EUR", balance=Decimal("1000"))


@pytest.fixture
def routed(acme, backup, monkeypatch):
    """Acme's campaign with a backup and the cheapest route on: its Kazakh messages go through
    a cheaper account ("Cheap KZ"), its Uzbek ones through its own."""
    monkeypatch.setattr(pricing, "funds_of", lambda account: RICH)
    monkeypatch.setattr(pricing, "current_funds", lambda campaign: RICH)
    ProviderAccount.objects.filter(pk=acme.account.pk).update(currency="EUR")
    cheap = ProviderAccount(
        workspace=acme.workspace, provider="bsg", name="Cheap KZ", currency="EUR"
    )
    cheap.credentials = {"api_key": "live_cheap_key_0000"}
    cheap.save()
    SenderName.objects.create(account=cheap, value=acme.sender.value, status="approved")
    set_rates(fresh(acme.campaign).account, KZ="0.035", UZ="0.050")
    set_rates(cheap, KZ="0.030", UZ="0.060")
    backed_up(
        acme.campaign,
        backup,
        failover_errors=4,
        cheapest_route=True,
        text="Hello",
        sender=acme.sender.value,
    )
    campaign = fresh(acme.campaign)
    Message.objects.bulk_create(
        [Message(campaign=campaign, phone=f"+7701000000{n}", country="KZ") for n in range(3)]
        + [Message(campaign=campaign, phone="+998901234567", country="UZ")]
    )
    return campaign


ROUTED_NOTE = "The cheapest route sends KZ through Cheap KZ: those messages stay on their route"


def test_the_rule_says_which_countries_the_cheapest_route_keeps_from_failing_over(as_role, routed):
    client = as_role(Role.SENDER)

    preview = client.get(reverse("campaign_preview", args=[routed.pk])).text
    launch = client.get(reverse("campaign_launch", args=[routed.pk])).text
    options = client.get(reverse("campaign_detail", args=[routed.pk])).text

    rule = re.search(r'data-testid="failover-rule">(.*?)</div>', launch, re.S).group(1)
    assert ROUTED_NOTE in rule and "do not fail over" in rule
    assert ROUTED_NOTE in preview
    step = re.search(r'data-testid="failover-options">(.*?)</fieldset>', options, re.S).group(1)
    assert "countries it sends through another account stay on their route" in step


def test_the_campaign_page_names_the_routed_countries_as_launched(as_role, acme, routed):
    from campaigns import services

    launched = services.launch(routed, acme.user(Role.SENDER), funds=RICH)

    page = as_role(Role.VIEWER).get(reverse("campaign_detail", args=[launched.pk])).text

    rule = re.search(r'data-testid="failover-rule">(.*?)</div>', page, re.S).group(1)
    assert ROUTED_NOTE in rule


def test_without_routes_the_rule_says_nothing_of_them(as_role, acme, backup):
    backed_up(acme.campaign, backup, failover_errors=4)
    client = as_role(Role.SENDER)

    pages = [
        client.get(reverse(name, args=[acme.campaign.pk])).text
        for name in ("campaign_preview", "campaign_launch", "campaign_detail")
    ]

    assert all("If Acme BSG fails" in page for page in pages[:2])
    assert not any(
        "cheapest route sends" in page or "stay on their route" in page for page in pages
    )
