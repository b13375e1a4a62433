"""The sending engine against each sandbox provider over real HTTP, in this process.

The beat task and the worker task are played by ``drain``, which calls the same functions the
Celery tasks call. Every figure is checked against the sandbox's charge ledger: a phone billed
twice is a message sent twice, a pending or submitting message at the end is a lost one.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.compose.outgoing import messages_for, spec_for
from campaigns.models import Batch, Campaign, Message
from campaigns.sending import engine as sending
from campaigns.tracking import polling as tracking
from contacts import book
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from crier.celery import app
from providers import http, registry
from providers.base import BatchState
from providers.sandbox.models import SandboxCampaign
from tests.sendkit import campaign_for, knobs, ledger, sandbox_account, statuses, tick, unsent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]

PROVIDERS = list(registry.PROVIDERS)
BATCH = SEND_BATCH_SIZE = 200


@pytest.fixture
def wire(acme, live_server):
    """``wire(slug, recipients)``: a sending campaign on a fresh sandbox account."""

    def make(slug: str, recipients: int = 500, **fields):
        account, remote = sandbox_account(acme.workspace, slug, live_server.url)
        return campaign_for(acme.workspace, account, recipients, **fields), remote

    return make


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def drain(campaign: Campaign, seconds: float = 60) -> Campaign:
    """Beat ticks and worker runs until the campaign stops sending (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tick(budget=5)
        campaign.refresh_from_db()
        if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
            return campaign
        time.sleep(0.02)
    raise AssertionError(f"still {campaign.status} after {seconds} s: {statuses(campaign)}")


@pytest.mark.parametrize("slug", PROVIDERS)
def test_every_message_is_handed_over_once_in_provider_batches(wire, slug):
    campaign, remote = wire(slug, 500)

    drain(campaign)

    assert campaign.status == CampaignStatus.SENT
    assert statuses(campaign) == {MessageStatus.QUEUED: 500}
    assert ledger(remote) == {"charges": 500, "phones_charged_twice": 0}
    batches = list(campaign.batches.values_list("status", "size", "accepted"))
    assert batches == [("submitted", 200, 200), ("submitted", 200, 200), ("submitted", 100, 100)]
    assert all(campaign.batches.values_list("provider_campaign_id", flat=True))
    assert campaign.submitted_at is not None


def test_provider_message_ids_are_recorded_where_the_provider_gives_them(wire):
    campaign, _remote = wire("mobizon", 300)

    drain(campaign)

    ids = campaign.messages.values_list("provider_message_id", flat=True)
    assert all(ids) and len(set(ids)) == 300


def test_temporary_errors_retry_the_same_batch_then_succeed(wire):
    campaign, remote = wire("bsg", 300)
    knobs(remote, error_burst=3)

    drain(campaign)

    assert ledger(remote) == {"charges": 300, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 300}
    # Logging in took the three 503s and retried inside the same batch.
    assert campaign.batches.count() == 2


def test_a_batch_that_keeps_failing_fails_with_the_last_error_and_pauses_the_campaign(
    wire, settings
):
    settings.CRIER_SEND_MAX_ATTEMPTS = 3
    settings.CRIER_SEND_PAUSE_AFTER_ERRORS = 1
    campaign, remote = wire("smsdrop", 300)
    knobs(remote, error_burst=1000)

    drain(campaign)

    assert campaign.status == CampaignStatus.PAUSED
    assert "batches failed in a row" in campaign.status_reason
    failed = campaign.batches.get(status=BatchStatus.FAILED)
    assert failed.last_error == "Gave up after 3 tries: smsdrop had an internal error."
    assert statuses(campaign) == {MessageStatus.FAILED: 200, MessageStatus.PENDING: 100}
    assert ledger(remote)["charges"] == 0


def test_rate_limits_are_waited_out_never_early(wire):
    campaign, remote = wire("bsg", 600)
    knobs(remote, rate_limit_every_n=3, retry_after=1)

    drain(campaign)

    remote.refresh_from_db()
    assert remote.early_requests == 0
    assert ledger(remote) == {"charges": 600, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 600}


def test_sending_and_polling_on_one_account_wait_out_each_others_retry_after(wire, acme):
    # Rate limits are per account: a 429 given to the sender holds the poller, and back.
    sent, remote = wire("bsg", 300)
    drain(sent)
    sending_now = campaign_for(acme.workspace, sent.account, 600)
    knobs(remote, rate_limit_every_n=2, retry_after=1)

    deadline = time.monotonic() + 60
    while sending_now.status == CampaignStatus.SENDING and time.monotonic() < deadline:
        tick(budget=1)
        tracking.poll(sent)  # the other campaign is polled all the while
        sending_now.refresh_from_db()
        time.sleep(0.02)

    remote.refresh_from_db()
    assert sending_now.status == CampaignStatus.SENT
    assert remote.early_requests == 0
    assert ledger(remote)["charges"] == 300 + 600  # both campaigns go to the same 300 phones
    assert statuses(sending_now) == {MessageStatus.QUEUED: 600}


@pytest.mark.parametrize("slug", ["bsg", "mobizon", "smsdrop"])
def test_a_batch_accepted_but_not_confirmed_is_reconciled_not_resent(wire, slug):
    campaign, remote = wire(slug, 400)
    knobs(remote, crash_after_accept_every_n=2)

    drain(campaign)

    assert ledger(remote) == {"charges": 400, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 400}
    assert campaign.status == CampaignStatus.SENT


def test_a_provider_that_cannot_look_a_batch_up_leaves_it_unknown_and_never_resends(wire):
    campaign, remote = wire("conpeek", 400)
    knobs(remote, crash_after_accept_every_n=2)

    drain(campaign)

    assert ledger(remote) == {"charges": 400, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 200, MessageStatus.UNKNOWN: 200}
    unknown = campaign.messages.filter(status=MessageStatus.UNKNOWN).first()
    assert "will not send them again" in unknown.error_reason


@pytest.mark.parametrize("provider_took_it", [True, False])
def test_a_worker_that_died_mid_call_is_reconciled_after_its_lease(wire, provider_took_it):
    campaign, remote = wire("bsg", 200)
    batch, _token = sending.claim(campaign)
    # The dying worker's last request left a minute ago: long enough for a provider that
    # found nothing to be believed.
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.SUBMITTING, last_request_at=timezone.now() - timedelta(minutes=1)
    )
    if provider_took_it:  # the dying worker's request reached BSG before it was killed
        messages = Message.objects.filter(batch=batch)
        with campaign.account.adapter() as adapter:
            adapter.submit(
                spec_for(campaign, sending=True),
                messages_for(campaign, messages),
                BatchState(key=batch.key),
            )

    sending.run(campaign.pk, budget=1)  # the lease still runs: nothing is touched
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.SUBMITTING
    # The run slept the campaign until the batch's lease ends (CRIER_LEASE_SECONDS, 15 s):
    # the lease runs out now, and the campaign wakes with it, as it would then.
    Batch.objects.filter(pk=batch.pk).update(lease_until=timezone.now())
    assert Campaign.objects.get(pk=campaign.pk).next_attempt_at == batch.lease_until
    Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=timezone.now())
    drain(campaign)

    assert ledger(remote) == {"charges": 200, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 200}
    assert campaign.batches.count() == 1


def test_insufficient_funds_pause_the_campaign_until_resumed(wire, acme):
    sam = acme.user("sender")
    campaign, remote = wire("bsg", 300)
    knobs(remote, balance=0)

    drain(campaign)

    assert campaign.status == CampaignStatus.PAUSED
    assert "balance is too low" in campaign.status_reason
    assert ledger(remote)["charges"] == 0
    knobs(remote, balance=1000)
    services.resume(campaign, sam)
    drain(campaign)
    assert ledger(remote) == {"charges": 300, "phones_charged_twice": 0}


def test_bad_credentials_pause_the_campaign_and_flag_the_account(wire):
    campaign, _remote = wire("mobizon", 100)
    account = campaign.account
    account.credentials = {**account.credentials, "api_key": "wrong" * 8}
    account.save()

    drain(campaign)

    assert campaign.status == CampaignStatus.PAUSED
    account.refresh_from_db()
    assert account.last_error == campaign.status_reason != ""
    assert unsent(campaign) == 100


def test_pausing_holds_every_batch_not_yet_out(wire, acme):
    sam = acme.user("sender")
    campaign, remote = wire("bsg", 600)
    taken = sending.claim(campaign)
    sending.HeldBatch(campaign, *taken).process()  # one batch went out
    services.pause(campaign, sam)

    drain_result = sending.run(campaign.pk, budget=1)

    assert drain_result == {}
    assert ledger(remote)["charges"] == 200
    services.resume(campaign, sam)
    drain(campaign)
    assert ledger(remote) == {"charges": 600, "phones_charged_twice": 0}


def test_stop_listed_numbers_are_caught_at_send(wire):
    campaign, remote = wire("bsg", 10)
    book.opt_out(campaign.workspace, ["+77010000003"], actor=None, where="page")

    drain(campaign)

    stopped = campaign.messages.get(phone="+77010000003")
    assert stopped.status == MessageStatus.CANCELLED and stopped.error_code == "stop_listed"
    assert ledger(remote)["charges"] == 9


def test_crier_paces_a_campaign_the_provider_cannot_pace(wire):
    """100 an hour goes one message every 36 s, not 100 at once and then an hour's wait."""
    campaign, remote = wire("bsg", 250, rate_limit=100, rate_period=3600)

    handed_out: list[int] = []
    sending.dispatch_due(handed_out.append)
    summary = sending.run(campaign.pk, budget=5)

    campaign.refresh_from_db()
    assert summary == {"submitted": 1, "waiting": 1}
    assert ledger(remote)["charges"] == 1
    wait = (campaign.next_attempt_at - timezone.now()).total_seconds()
    assert 34 < wait <= 36


@pytest.mark.parametrize(
    ("limit", "period", "size", "every"),
    [(100, 3600, 1, 36.0), (600, 60, 20, 2.0), (60, 60, 2, 2.0), (7, 60, 1, 60 / 7)],
)
def test_a_rate_limit_is_spread_evenly_over_its_period(wire, limit, period, size, every):
    campaign, _remote = wire("bsg", 1, rate_limit=limit, rate_period=period)
    assert sending.pace(campaign) == (size, timedelta(seconds=every))
    assert sending.batch_size(campaign) == size


def test_paced_batches_keep_the_average_rate_when_beat_ticks_late(wire):
    """A batch handed out late makes the next one due sooner, so 3 a minute is 3 a minute,
    not 3 per 75 s. (Paced at one every 20 s, so the send itself may take up to 5 s on a busy
    machine before "late" would mean later than one interval: CI once took over 0.5 s.)"""
    campaign, _remote = wire("bsg", 10, rate_limit=30, rate_period=600)  # 1 every 20 s
    due = timezone.now() - timedelta(seconds=15)  # handed out 15 s after it was due
    Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=due)
    sending.run(campaign.pk, budget=0.1)
    campaign.refresh_from_db()
    assert campaign.next_attempt_at == due + timedelta(seconds=20)


def test_scheduled_campaigns_start_at_their_time_and_are_handed_out_once(wire):
    due, _ = wire("bsg", 5, status="scheduled", start_at=timezone.now() - timedelta(seconds=1))
    later = Campaign.objects.create(
        workspace=due.workspace,
        account=due.account,
        name="Later",
        status="scheduled",
        start_at=timezone.now() + timedelta(hours=1),
    )

    first: list[int] = []
    second: list[int] = []
    sending.dispatch_due(first.append)
    sending.dispatch_due(second.append)

    assert first == [due.pk] and second == []
    assert Campaign.objects.get(pk=due.pk).status == CampaignStatus.SENDING
    assert Campaign.objects.get(pk=later.pk).status == CampaignStatus.SCHEDULED


@pytest.mark.parametrize(
    ("slug", "report"),
    [
        ("bsg", "Nothing else will go out: BSG stopped what it held."),
        ("smsdrop", "200 messages already handed to smsdrop will still go out."),
    ],
)
def test_stop_asks_the_provider_and_says_what_will_still_go_out(wire, acme, slug, report):
    campaign, _remote = wire(slug, 600)
    sending.HeldBatch(campaign, *sending.claim(campaign)).process()

    cancelled = services.stop(campaign, acme.user("sender"))
    services.stop_provider_side(campaign.pk)  # the task, run here

    campaign.refresh_from_db()
    assert cancelled == 400
    assert campaign.stop_report == report
    assert statuses(campaign) == {MessageStatus.QUEUED: 200, MessageStatus.CANCELLED: 400}


def test_a_batch_in_flight_at_the_stop_is_stopped_when_it_comes_back(
    wire, acme, django_capture_on_commit_callbacks, eager
):
    campaign, _remote = wire("bsg", 200)
    held = sending.HeldBatch(campaign, *sending.claim(campaign))
    Batch.objects.filter(pk=held.batch.pk).update(status=BatchStatus.SUBMITTING)
    held.batch.status = BatchStatus.SUBMITTING
    services.stop(campaign, acme.user("sender"))  # while its worker is calling the provider
    services.stop_provider_side(campaign.pk)
    assert "Crier will report on it" in Campaign.objects.get(pk=campaign.pk).stop_report
    with campaign.account.adapter() as adapter:
        spec, outgoing, state = held._request()
        submission = adapter.submit(spec, outgoing, state)

    with django_capture_on_commit_callbacks(execute=True):
        held._record(submission)

    campaign.refresh_from_db()
    assert campaign.stop_report == "Nothing else will go out: BSG stopped what it held."
    assert Batch.objects.get(pk=held.batch.pk).stopped is True


# --- Slow providers, duplicates and retries (issue #13) --------------------------------------


def personalise(campaign: Campaign, **more: str) -> None:
    for message in campaign.messages.all():
        message.fields = {"name": f"N{message.pk}", **more}
        message.save(update_fields=["fields"])


@pytest.mark.parametrize(
    ("slug", "text"),
    [
        ("bsg", "Hello from Crier"),
        ("bsg", "Hello {name}"),
        ("mobizon", "Hello from Crier"),
        ("mobizon", "Hello {name}"),
        ("smsdrop", "Hello from Crier"),
    ],
)
def test_a_provider_slower_than_the_timeout_charges_each_message_once(
    wire, settings, monkeypatch, slug, text
):
    """The provider takes each batch, works on it longer than Crier waits, then bills it: a
    lookup made meanwhile finds nothing, which must not be read as "never taken"."""
    # The sandbox is on this machine: a connection is made at once, so the engine's allowance
    # for connecting (5 s, before a request can be on its way) is cut to keep the test short.
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(sending, "CONNECT_TIMEOUT", 0.5)
    settings.CRIER_PROVIDER_TIMEOUT = 0.5
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 1.5  # longer than this provider ever works
    campaign, remote = wire(slug, 400, text=text)
    if "{name}" in text:
        personalise(campaign)
    knobs(remote, slow_accept_seconds=1.0)

    drain(campaign, seconds=90)

    assert ledger(remote) == {"charges": 400, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 400}
    launched = SandboxCampaign.objects.filter(account=remote, launched_at__isnull=False)
    assert launched.count() == campaign.batches.count() == 2  # no batch went twice


def test_a_lookup_that_finds_nothing_right_after_a_timeout_sends_nothing_until_settled(
    wire, settings
):
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 600.0
    campaign, remote = wire("bsg", 200)
    batch, _token = sending.claim(campaign)
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.UNKNOWN, last_request_at=timezone.now(), lease_until=None
    )

    sending.run(campaign.pk, budget=1)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.UNKNOWN
    assert batch.next_attempt_at > timezone.now() + timedelta(seconds=600)
    assert ledger(remote) == {"charges": 0, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.SUBMITTING: 200}


def test_a_batch_abandoned_before_its_first_request_is_sent_once_settled_not_looked_up_forever(
    wire, settings
):
    """A worker killed after it marked the batch submitting but before any request: nothing
    records a request, and each look-up that finds nothing must not push the settle time on
    (the chaos run once left such a batch looking itself up for good)."""
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 1.0
    campaign, remote = wire("bsg", 200)
    batch, _token = sending.claim(campaign)
    claimed = timezone.now() - timedelta(seconds=30)
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.SUBMITTING, created_at=claimed, lease_until=timezone.now()
    )

    drain(campaign)

    assert ledger(remote) == {"charges": 200, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 200}


def test_bsg_already_having_the_references_is_reconciled_and_retry_resends_nothing(
    wire, acme, settings
):
    """A batch BSG took (its answer lost) goes out again: BSG answers 422 "The reference id has
    already been taken.", which is evidence that it has them, never a failure."""
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 0.0  # a negative lookup would be believed
    campaign, remote = wire("bsg", 200)
    batch, _token = sending.claim(campaign)
    with campaign.account.adapter() as adapter:  # the earlier try, whose answer was lost
        adapter.submit(
            spec_for(campaign, sending=True),
            messages_for(campaign, Message.objects.filter(batch=batch)),
            BatchState(key=batch.key),
        )
    Batch.objects.filter(pk=batch.pk).update(lease_until=None, lease_token="")

    drain(campaign)

    assert ledger(remote) == {"charges": 200, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 200}
    batch.refresh_from_db()
    assert batch.provider_has_it and batch.provider_campaign_id
    with pytest.raises(services.CampaignRuleError, match="nothing to retry"):
        services.retry_failed(campaign, acme.user("sender"))


def test_personalised_mobizon_batches_fit_phps_form_field_limit(wire, settings):
    settings.CRIER_SEND_BATCH_SIZE = 5000
    campaign, remote = wire("mobizon", 1200, text="Hello {name}, see {city}")
    personalise(campaign, city="Almaty")

    drain(campaign)

    assert ledger(remote) == {"charges": 1200, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 1200}


def test_a_mobizon_batch_goes_on_through_a_rate_limit_instead_of_starting_over(wire, settings):
    settings.CRIER_SEND_BATCH_SIZE = 5000
    campaign, remote = wire("mobizon", 2000, text="Hello {name}")
    personalise(campaign)
    knobs(remote, rate_limit_every_n=4, retry_after=1)

    drain(campaign, seconds=90)

    assert ledger(remote) == {"charges": 2000, "phones_charged_twice": 0}
    assert statuses(campaign) == {MessageStatus.QUEUED: 2000}
    remote.refresh_from_db()
    assert remote.early_requests == 0
    assert remote.request_count < 20  # 1 create + 5 adds + 1 send, and the refused ones


def test_a_running_task_holds_its_campaign_only_a_short_lease_ahead(wire, settings):
    settings.CRIER_LEASE_SECONDS = 15
    campaign, _remote = wire("bsg", 10)
    handed_out: list[int] = []
    sending.dispatch_due(handed_out.append)
    queued_lease = Campaign.objects.get(pk=campaign.pk).lease_until

    with sending.Heartbeat(campaign.pk):
        running_lease = Campaign.objects.get(pk=campaign.pk).lease_until

    assert running_lease < queued_lease
    assert running_lease <= timezone.now() + timedelta(seconds=15)
