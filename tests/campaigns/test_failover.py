"""Failover: when the primary account trips the campaign's rule, its pending messages move to
the backup under new references; nothing whose fate at the primary is unknown moves until a
lookup proves the primary never took it.

The engine runs in this process against two sandbox accounts over real HTTP; every figure is
checked against both accounts' charge ledgers: a phone billed twice, by one account or across
the two, is a message sent twice.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from campaigns import services
from campaigns.compose.outgoing import messages_for, spec_for
from campaigns.models import Batch, Campaign, Message
from campaigns.sending import engine as sending
from campaigns.sending import failover
from campaigns.tracking import costs
from campaigns.tracking import polling as tracking
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.base import BatchState
from providers.errors import TemporaryError
from providers.models import ProviderAccount, Rate
from providers.sandbox import clock
from providers.sandbox.models import Charge, SandboxAccount
from tests.sendkit import OTHER_SENDER as BACKUP_SENDER
from tests.sendkit import knobs, ledger, send_all, statuses, with_backup
from webhooks.models import Endpoint, Event, EventType

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(settings, acme, live_server):
    """A BSG campaign of 30 (batches of 10) with a Mobizon backup under another sender name:
    failover after 3 temporary errors in a row."""
    settings.CRIER_SEND_BATCH_SIZE = 10
    settings.CRIER_SEND_BACKOFF_CAP = 0.1
    settings.CRIER_SEND_MAX_ATTEMPTS = 100
    settings.CRIER_PROVIDER_TIMEOUT = 5.0
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 1.0
    campaign, (_, primary_remote), (_, backup_remote) = with_backup(
        acme.workspace, live_server.url, 30, failover_errors=3, failover_minutes=0
    )
    return campaign, primary_remote, backup_remote


def phones_billed(*remotes: SandboxAccount) -> list[str]:
    """Every phone billed, by either account (a phone twice in the list: sent twice)."""
    charges = Charge.objects.active().filter(account__in=remotes)
    return sorted(phone.lstrip("+") for phone in charges.values_list("phone", flat=True))


def run_until(campaign: Campaign, condition, seconds: float = 30) -> None:
    """Worker runs, as beat would hand them out, until ``condition()`` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, statuses(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=None)
        try:
            sending.run(campaign.pk, budget=1)
        finally:
            sending.release(campaign.pk)
        time.sleep(0.05)


def test_three_temporary_errors_in_a_row_move_the_pending_messages_to_the_backup(pair):
    campaign, primary, backup = pair
    sending.run(campaign.pk, budget=0)  # one batch of 10 through the primary
    sending.release(campaign.pk)
    before = dict(campaign.messages.filter(batch=None).values_list("pk", "reference"))
    knobs(primary, errors_until=timezone.now() + timedelta(hours=1))

    send_all(campaign)

    campaign.refresh_from_db()
    assert campaign.failed_over_at is not None
    assert campaign.failover_reason.startswith("3 temporary errors in a row at BSG")
    assert ledger(primary) == {"charges": 10, "phones_charged_twice": 0}
    assert ledger(backup) == {"charges": 20, "phones_charged_twice": 0}
    billed = phones_billed(primary, backup)
    assert len(billed) == len(set(billed)) == 30
    moved = campaign.messages.filter(pk__in=before)
    assert set(moved.values_list("account_id", "sender")) == {
        (campaign.backup_account_id, BACKUP_SENDER)
    }
    assert not {ref for pk, ref in moved.values_list("pk", "reference") if before[pk] == ref}
    # The batch the primary refused three times closed empty; its messages went too.
    refused = campaign.batches.get(status=BatchStatus.CANCELLED)
    assert refused.account_id == campaign.account_id and refused.size == 0
    assert "never took these 10 messages" in refused.last_error
    event = AuditEvent.objects.get(action=Action.CAMPAIGN_FAILED_OVER)
    assert event.details["moved"] == 10 and event.details["campaign_id"] == campaign.pk
    assert event.workspace_id == campaign.workspace_id


def test_an_answer_from_the_primary_starts_the_count_again(pair):
    campaign, _primary_remote, _backup = pair
    primary = campaign.account
    error = TemporaryError("Service Unavailable")

    assert not failover.temporary_error(campaign, primary, error)
    assert not failover.temporary_error(campaign, primary, error)
    failover.answered(campaign, primary)
    assert not failover.temporary_error(campaign, primary, error)
    assert not failover.temporary_error(campaign, primary, error)

    campaign.refresh_from_db()
    assert (campaign.primary_errors, campaign.failed_over_at) == (2, None)
    assert campaign.messages.filter(account=None).count() == 30
    assert not failover.temporary_error(campaign, campaign.backup_account, error)


def test_the_primary_failing_for_the_stated_minutes_trips_the_rule(pair):
    campaign, _primary, _backup = pair
    Campaign.objects.filter(pk=campaign.pk).update(failover_errors=0, failover_minutes=2)
    campaign.refresh_from_db()
    error = TemporaryError("Service Unavailable")
    assert not failover.temporary_error(campaign, campaign.account, error)
    almost = timezone.now() - timedelta(seconds=110)
    Campaign.objects.filter(pk=campaign.pk).update(primary_failing_since=almost)
    assert not failover.temporary_error(campaign, campaign.account, error)

    Campaign.objects.filter(pk=campaign.pk).update(
        primary_failing_since=timezone.now() - timedelta(minutes=2, seconds=1)
    )
    assert failover.temporary_error(campaign, campaign.account, error)

    campaign.refresh_from_db()
    assert campaign.failover_reason == (
        "BSG failed for 2 minutes. The last error: Service Unavailable"
    )
    assert campaign.messages.filter(account=campaign.backup_account).count() == 30


def test_an_account_error_at_the_primary_fails_over_instead_of_pausing(pair):
    campaign, primary, backup = pair
    knobs(primary, balance=0)

    send_all(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and campaign.failed_over_at
    assert "balance" in campaign.failover_reason.lower()
    assert ledger(primary)["charges"] == 0
    assert ledger(backup) == {"charges": 30, "phones_charged_twice": 0}


def test_without_the_account_error_rule_an_account_error_still_pauses(pair):
    campaign, primary, backup = pair
    Campaign.objects.filter(pk=campaign.pk).update(failover_on_account_error=False)
    knobs(primary, balance=0)

    sending.run(campaign.pk, budget=2)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED and campaign.failed_over_at is None
    assert ledger(backup)["charges"] == 0


def test_failing_over_moves_only_pending_messages_never_those_of_open_batches(pair):
    campaign, _primary, _backup = pair
    open_states = [BatchStatus.SUBMITTING, BatchStatus.UNKNOWN, BatchStatus.HELD]
    kept = {}
    for state in open_states:
        batch, _token = sending.claim(campaign)
        Batch.objects.filter(pk=batch.pk).update(status=state)
        kept.update(Message.objects.filter(batch=batch).values_list("pk", "reference"))
    assert campaign.messages.filter(status=MessageStatus.PENDING).count() == 0

    assert failover.fail_over(campaign, "test")

    untouched = campaign.messages.filter(pk__in=kept)
    assert dict(untouched.values_list("pk", "reference")) == kept
    assert set(untouched.values_list("account_id", "status")) == {(None, MessageStatus.SUBMITTING)}
    assert AuditEvent.objects.get(action=Action.CAMPAIGN_FAILED_OVER).details["moved"] == 0


@pytest.mark.parametrize("primary_took_it", [True, False])
def test_a_batch_unknown_at_the_failover_moves_only_once_proved_never_taken(pair, primary_took_it):
    campaign, primary, backup = pair
    batch, _token = sending.claim(campaign)
    # Its worker died mid-call a minute ago; whether the request reached the primary is
    # for a lookup to tell.
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.SUBMITTING,
        last_request_at=timezone.now() - timedelta(minutes=1),
        lease_until=timezone.now(),
    )
    references = set(Message.objects.filter(batch=batch).values_list("reference", flat=True))
    if primary_took_it:
        with campaign.account.adapter() as adapter:
            adapter.submit(
                spec_for(campaign, sending=True),
                messages_for(campaign, Message.objects.filter(batch=batch)),
                BatchState(key=batch.key),
            )
    knobs(primary, errors_until=timezone.now() + timedelta(hours=1))

    # The primary answers 503 to the lookup and to the next batch: the campaign fails over,
    # the other 20 go through the backup, the unknown batch waits at the primary.
    run_until(campaign, lambda: ledger(backup)["charges"] == 20)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.UNKNOWN
    unknown = Message.objects.filter(batch=batch)
    assert set(unknown.values_list("reference", flat=True)) == references
    assert set(unknown.values_list("account_id", flat=True)) == {None}

    knobs(primary, errors_until=None)  # the primary answers lookups again
    send_all(campaign)

    billed = phones_billed(primary, backup)
    assert len(billed) == len(set(billed)) == 30
    assert ledger(primary)["charges"] == (10 if primary_took_it else 0)
    assert ledger(backup)["charges"] == (20 if primary_took_it else 30)
    batch.refresh_from_db()
    assert batch.status == (BatchStatus.SUBMITTED if primary_took_it else BatchStatus.CANCELLED)


def test_after_a_failover_retried_messages_go_to_the_backup(pair, acme):
    campaign, primary, backup = pair
    batch, _token = sending.claim(campaign)  # refused by the primary before it took anything
    Message.objects.filter(batch=batch).update(status=MessageStatus.FAILED)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, lease_token="")
    failover.fail_over(campaign, "test")
    send_all(campaign)
    assert ledger(backup)["charges"] == 20

    plan = services.retry_plan(campaign, campaign.counters)
    assert "BSG" not in plan.confirmation  # the primary refused them; the backup sends them
    assert "charged if Mobizon accepts them now" in plan.confirmation
    services.retry_failed(campaign, acme.user("sender"))
    send_all(campaign)

    assert ledger(primary)["charges"] == 0
    assert ledger(backup) == {"charges": 30, "phones_charged_twice": 0}
    assert set(campaign.messages.values_list("account_id", flat=True)) == {
        campaign.backup_account_id
    }


def test_messages_the_cheapest_route_sends_elsewhere_stay_on_their_route(pair, acme):
    """The cheapest route is applied by each claim (Campaign.routed_countries): a pending
    message of a country routed through a third account is not the primary's to move."""
    campaign, _primary, _backup = pair
    third = ProviderAccount.objects.create(
        workspace=acme.workspace, provider="bsg", name="Wholesale", currency="EUR"
    )
    ids = list(campaign.messages.order_by("pk").values_list("pk", flat=True))
    campaign.messages.filter(pk__in=ids[:10]).update(country="UZ")
    campaign.estimate = {"routes": [{"country": "UZ", "account": third.pk}]}
    campaign.save(update_fields=["estimate"])

    assert failover.fail_over(campaign, "test")

    routed = campaign.messages.filter(country="UZ")
    assert set(routed.values_list("account_id", "status")) == {(None, MessageStatus.PENDING)}
    moved = campaign.messages.exclude(country="UZ")
    assert set(moved.values_list("account_id", flat=True)) == {campaign.backup_account_id}
    assert AuditEvent.objects.get(action=Action.CAMPAIGN_FAILED_OVER).details["moved"] == 20
    batch, _token = sending.claim(Campaign.objects.get(pk=campaign.pk))
    assert (batch.account_id, batch.size) == (third.pk, 10)


def test_a_failover_is_told_to_webhooks_with_the_route_and_the_reason(pair, acme):
    campaign, _primary, _backup = pair
    Endpoint.objects.create(
        workspace=acme.workspace,
        url="https://hooks.example/in",
        event_types=[EventType.CAMPAIGN_FAILED_OVER],
    )

    assert failover.fail_over(campaign, "5 temporary errors in a row at BSG")

    data = Event.objects.get(type=EventType.CAMPAIGN_FAILED_OVER).data
    assert data["campaign"]["id"] == campaign.pk
    assert data["failover"] == {
        "primary": {"id": campaign.account_id, "name": campaign.account.name},
        "backup": {"id": campaign.backup_account_id, "name": campaign.backup_account.name},
        "backup_sender": BACKUP_SENDER,
        "moved": 30,
        "reason": "5 temporary errors in a row at BSG",
    }


def test_after_a_failover_the_cost_is_compared_with_the_estimate_for_the_accounts_that_sent(
    pair, as_role, monkeypatch
):
    """Found by review (reproduced first): the actual cost was set against the primary's
    estimate, and a backup dearer in the same currency read as billing more than estimated.
    Both accounts bill in EUR here: BSG 0.035 a part, the Mobizon backup 0.15."""
    campaign, primary, backup = pair
    backup.domain, backup.currency = "mobizon.com.br", "EUR"
    backup.save(update_fields=["domain", "currency"])
    ProviderAccount.objects.filter(pk=campaign.backup_account_id).update(currency="EUR")
    Rate.objects.create(account=campaign.account, country="KZ", price=Decimal("0.035"))
    Rate.objects.create(account_id=campaign.backup_account_id, country="KZ", price=Decimal("0.15"))
    Campaign.objects.filter(pk=campaign.pk).update(
        launched_at=timezone.now(),
        estimate={"total": "1.05", "currency": "EUR", "messages": 30, "segments": 30},
    )
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen + clock._offset)
    sending.run(campaign.pk, budget=0)  # one batch of 10 through the primary
    sending.release(campaign.pk)
    knobs(primary, errors_until=timezone.now() + timedelta(hours=1))
    send_all(campaign)
    knobs(primary, errors_until=None)  # back up: its batch is polled for its cost
    for _ in range(3):
        clock.advance(15)
        tracking.poll(campaign)
    campaign.refresh_from_db()

    billed = {
        remote.pk: Charge.objects.active().filter(account=remote).total()
        for remote in (primary, backup)
    }
    assert billed == {primary.pk: Decimal("0.350"), backup.pk: Decimal("3.000")}
    shown = costs.actual_cost(campaign, handed_over=30)
    assert shown.actual == "3.35 EUR"  # what the two ledgers hold
    assert shown.as_sent == "3.35 EUR"  # 10 x 0.035 at BSG + 20 x 0.15 at Mobizon
    assert (shown.verdict, shown.flag) == ("within rounding", "")
    page = as_role("viewer").get(reverse("campaign_detail", args=[campaign.pk])).text
    assert "Estimated for the accounts that sent" in page
    assert "Estimated at launch, before the failover" in page
    assert 'data-testid="cost-flag"' not in page
    route_billed = re.findall(r'data-testid="route-billed">([^<]+)<', page)
    assert route_billed == ["0.35 EUR", "3.00 EUR"]
