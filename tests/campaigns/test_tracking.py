"""Delivery tracking: reports only move messages forward, polls follow each sandbox provider to
completion, and the figures match the sandbox's own.

Expected figures never come from our adapters: they are computed from the sandbox's messages
(``billing.message_stage`` at the sandbox clock) and its charge ledger.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from audit.models import Action, AuditEvent
from campaigns import services
from campaigns.models import Campaign, CampaignCounters, CounterSnapshot, Message
from campaigns.tracking import polling as tracking
from core.statuses import RANK, REPORTED_FINAL, CampaignStatus, MessageStatus
from providers.base import MessageStatusReport
from providers.sandbox import billing, clock
from providers.sandbox.models import Charge, SandboxMessage
from tests.sendkit import campaign_for, sandbox_account, send_all, statuses

REPORTED = list(RANK)


def report(status: str, *, reference: str = "", provider_id: str = "", raw: str = ""):
    return MessageStatusReport(
        status=status,
        raw_status=raw or status.upper(),
        final=status in REPORTED_FINAL,
        reference=reference,
        provider_message_id=provider_id,
    )


# --- Applying reports ------------------------------------------------------------------------


@pytest.fixture
def queued(acme):
    """A campaign of five queued messages with provider ids p0…p4."""
    campaign = campaign_for(acme.workspace, acme.account, 5, status=CampaignStatus.SENT)
    for n, message in enumerate(campaign.messages.order_by("pk")):
        message.status, message.provider_message_id = MessageStatus.QUEUED, f"p{n}"
        message.save()
    return campaign


def _messages(campaign):
    return list(campaign.messages.order_by("pk"))


@pytest.mark.django_db
def test_a_report_moves_a_message_forward_by_reference_or_provider_id(queued):
    first, second, *_ = _messages(queued)

    changed = tracking.apply_statuses(
        queued,
        [
            report("sent", reference=first.reference, raw="ACCEPTD"),
            report("delivered", provider_id="p1", raw="DELIVRD"),
        ],
    )

    assert changed == 2
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.raw_status) == ("sent", "ACCEPTD")
    assert (second.status, second.raw_status) == ("delivered", "DELIVRD")
    assert CampaignCounters.objects.get(campaign=queued).delivered == 1


@pytest.mark.django_db
def test_a_delivered_message_never_goes_back(queued):
    message = _messages(queued)[0]
    tracking.apply_statuses(queued, [report("delivered", reference=message.reference)])

    changed = tracking.apply_statuses(
        queued,
        [
            report(status, reference=message.reference)
            for status in ("sent", "queued", "unknown", "undelivered", "delivered")
        ],
    )

    assert changed == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


@pytest.mark.django_db
def test_reports_never_touch_our_own_statuses_or_another_campaigns_messages(queued, acme):
    other = campaign_for(acme.workspace, acme.account, 1, name="Other")
    mine = _messages(queued)
    Message.objects.filter(pk=mine[0].pk).update(status=MessageStatus.FAILED)
    Message.objects.filter(pk=mine[1].pk).update(status=MessageStatus.PENDING)
    stranger = other.messages.get()

    changed = tracking.apply_statuses(
        queued,
        [
            report("delivered", reference=mine[0].reference),
            report("delivered", reference=mine[1].reference),
            report("delivered", reference=stranger.reference),
            report("delivered", provider_id="no-such-id"),
        ],
    )

    assert changed == 0
    assert statuses(queued) == {"failed": 1, "pending": 1, "queued": 3}
    assert statuses(other) == {"pending": 1}


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sequence=st.lists(
        st.tuples(
            st.integers(0, 4),  # which message
            st.sampled_from(REPORTED),
            st.booleans(),  # named by reference (else by the provider's id)
        ),
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=5),
)
def test_statuses_only_move_forward_whatever_the_order_of_reports(queued, sequence, cuts):
    Message.objects.filter(campaign=queued).update(status=MessageStatus.QUEUED, raw_status="")
    messages = _messages(queued)
    reports = [
        report(status, reference=messages[i].reference)
        if by_reference
        else report(status, provider_id=messages[i].provider_message_id)
        for i, status, by_reference in sequence
    ]
    # Applied in polls of random sizes, as reports trickle in.
    bounds = sorted({0, len(reports), *(c for c in cuts if c < len(reports))})
    ranks = [RANK["queued"]] * 5
    for start, end in itertools.pairwise(bounds):
        tracking.apply_statuses(queued, reports[start:end])
        now = [RANK[m.status] for m in _messages(queued)]
        assert all(after >= before for before, after in zip(ranks, now, strict=True))
        ranks = now

    highest = Counter()
    for i, status, _by_reference in sequence:
        highest[i] = max(highest[i], RANK[status])
    assert ranks == [max(highest[i], RANK["queued"]) for i in range(5)]
    # The whole story told again, in any order, changes nothing.
    assert tracking.apply_statuses(queued, reversed(reports)) == 0
    assert tracking.apply_statuses(queued, reports) == 0
    counters = CampaignCounters.objects.get(campaign=queued).as_dict()
    assert {s: n for s, n in counters.items() if n} == statuses(queued)


# --- Polling the sandbox ---------------------------------------------------------------------

SANDBOX_STAGE = {"scheduled": "queued", "cancelled": "unknown"}  # the rest keep their names


@pytest.fixture
def sandbox(settings, acme, live_server, monkeypatch):
    settings.CRIER_SEND_BATCH_SIZE = 40
    settings.CRIER_PROVIDER_TIMEOUT = 5.0
    clock.reset()
    # The sandbox's time moves only when a test advances it, so its figures can be compared
    # with ours after a poll.
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen + clock._offset)

    def make(slug: str, recipients: int = 100):
        account, remote = sandbox_account(acme.workspace, slug, live_server.url)
        campaign = campaign_for(acme.workspace, account, recipients)
        send_all(campaign)
        return campaign, remote

    yield make
    clock.reset()


def _poll_until_completed(campaign: Campaign, step: float = 15, polls: int = 20) -> int:
    for n in range(1, polls + 1):
        clock.advance(step)
        tracking.poll(campaign)
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.COMPLETED:
            return n
    raise AssertionError(f"not completed after {polls} polls: {statuses(campaign)}")


def sandbox_figures(remote) -> Counter:
    """What the sandbox itself says became of every message, in the common statuses."""
    now = clock.now()
    messages = SandboxMessage.objects.filter(campaign__account=remote).select_related("campaign")
    stages = (billing.message_stage(m, m.campaign, now) for m in messages)
    return Counter(SANDBOX_STAGE.get(stage, stage) for stage in stages)


def counters(campaign: Campaign) -> CampaignCounters:
    return CampaignCounters.objects.get(campaign=campaign)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slug", ["bsg", "mobizon"])
def test_a_campaign_is_followed_to_completion_with_the_providers_figures(sandbox, slug):
    campaign, remote = sandbox(slug)

    _poll_until_completed(campaign)

    figures = counters(campaign)
    ours = {s: n for s, n in figures.as_dict().items() if n}
    assert ours == dict(sandbox_figures(remote))
    assert set(ours) <= {"delivered", "undelivered", "expired", "rejected"}
    assert figures.cost == Charge.objects.active().filter(account=remote).total()
    assert figures.currency == remote.currency
    assert campaign.completed_at is not None and campaign.next_poll_at is None
    assert all(campaign.batches.values_list("final", flat=True))


@pytest.mark.django_db(transaction=True)
def test_figures_match_the_sandbox_while_the_campaign_is_still_delivering(sandbox):
    campaign, remote = sandbox("bsg")
    clock.advance(30)

    tracking.poll(campaign)

    ours = {s: n for s, n in counters(campaign).as_dict().items() if n}
    assert ours == dict(sandbox_figures(remote))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and campaign.next_poll_at is not None


@pytest.mark.django_db(transaction=True)
def test_mobizon_messages_whose_ids_were_lost_follow_the_campaigns_counters(sandbox):
    campaign, remote = sandbox("mobizon", 80)
    # As after a reconciliation: Mobizon took the batch but its message ids never reached us.
    lost = campaign.messages.order_by("pk").values_list("pk", flat=True)[:30]
    Message.objects.filter(pk__in=list(lost)).update(provider_message_id="")
    clock.advance(30)

    tracking.poll(campaign)
    assert counters(campaign).as_dict() == _with_zeros(sandbox_figures(remote))

    _poll_until_completed(campaign)
    ours = {s: n for s, n in counters(campaign).as_dict().items() if n}
    assert ours == dict(sandbox_figures(remote))


def _with_zeros(figures: Counter) -> dict:
    return {status: figures.get(status, 0) for status in CampaignCounters().as_dict()}


@pytest.mark.django_db(transaction=True)
def test_smsdrop_figures_are_derived_from_its_delivery_percentage(sandbox):
    campaign, remote = sandbox("smsdrop", 80)  # two batches of 40

    _poll_until_completed(campaign)

    truth = sandbox_figures(remote)
    figures = counters(campaign)
    # smsdrop tells only how many were delivered; the others are unknown once it completes.
    assert figures.delivered == truth["delivered"]
    assert figures.unknown == 80 - truth["delivered"]
    assert figures.queued == figures.sent == 0


@pytest.mark.django_db(transaction=True)
def test_conpeek_calls_stay_queued_then_become_unknown_after_the_window(sandbox, settings):
    settings.CRIER_POLL_UNTRACKED_SECONDS = 3600
    campaign, _remote = sandbox("conpeek", 50)

    tracking.poll(campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert counters(campaign).queued == 50

    settings.CRIER_POLL_UNTRACKED_SECONDS = 0
    tracking.poll(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert counters(campaign).unknown == 50
    assert campaign.messages.filter(error_reason=tracking.CLOSED_REASON).count() == 50


@pytest.mark.django_db(transaction=True)
def test_snapshots_are_written_only_when_the_figures_change(sandbox):
    campaign, _remote = sandbox("bsg", 40)

    tracking.poll(campaign)  # the chart's starting point
    tracking.poll(campaign)  # nothing moved: the sandbox clock stood still
    assert campaign.snapshots.count() == 1

    _poll_until_completed(campaign)
    snapshots = list(campaign.snapshots.order_by("taken_at"))
    assert len(snapshots) >= 2
    assert all(a.counts != b.counts for a, b in itertools.pairwise(snapshots))
    assert snapshots[-1].counts == counters(campaign).as_dict()
    assert set(snapshots[0].counts) == set(counters(campaign).as_dict())


# --- Scheduling and locking ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_campaign_being_polled_is_skipped_not_queued_again(sandbox):
    campaign, _remote = sandbox("bsg", 40)
    Campaign.objects.filter(pk=campaign.pk).update(next_poll_at=timezone.now())
    assert tracking.take_lease(campaign.pk)

    handed_out: list[int] = []
    tracking.poll_due(handed_out.append)
    assert handed_out == []
    assert not tracking.take_lease(campaign.pk)

    tracking.release(campaign.pk)
    tracking.poll_due(handed_out.append)
    assert handed_out == [campaign.pk]


@pytest.mark.django_db(transaction=True)
def test_polling_stops_at_completion(sandbox):
    campaign, _remote = sandbox("mobizon", 40)
    campaign.refresh_from_db()
    assert campaign.next_poll_at is not None  # scheduled when the batch went out

    _poll_until_completed(campaign)
    clock.advance(3600)

    handed_out: list[int] = []
    tracking.poll_due(handed_out.append)
    assert handed_out == []
    campaign.refresh_from_db()
    assert campaign.next_poll_at is None
    assert tracking.run(campaign.pk) == {"campaign": campaign.pk, "skipped": "not in flight"}


@pytest.mark.django_db(transaction=True)
def test_a_stopped_campaign_is_polled_until_its_batches_out_are_final(sandbox, acme):
    campaign, remote = sandbox("bsg", 40)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    services.stop(campaign, acme.user("owner"))
    clock.advance(200)

    tracking.poll(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert campaign.next_poll_at is None
    ours = {s: n for s, n in counters(campaign).as_dict().items() if n}
    assert ours == dict(sandbox_figures(remote))


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_polls_due_campaigns_through_the_worker_task(sandbox):
    from campaigns import tasks
    from crier.celery import app

    campaign, _remote = sandbox("bsg", 40)
    Campaign.objects.filter(pk=campaign.pk).update(next_poll_at=timezone.now())
    app.conf.task_always_eager = True
    try:
        assert tasks.poll_campaigns() == {"handed_out": 1}
    finally:
        app.conf.task_always_eager = False

    campaign.refresh_from_db()
    assert campaign.last_polled_at is not None and campaign.poll_lease_until is None
    assert CounterSnapshot.objects.filter(campaign=campaign).exists()


# --- Admin -----------------------------------------------------------------------------------


def _admin_action(admin_client, action: str, campaign: Campaign):
    url = reverse("admin:campaigns_campaign_changelist")
    data = {"action": action, "_selected_action": [campaign.pk]}
    return admin_client.post(url, data, follow=True)


@pytest.mark.django_db(transaction=True)
def test_admin_poll_now_polls_the_campaign_at_once(sandbox, admin_client):
    from crier.celery import app

    campaign, _remote = sandbox("bsg", 40)
    app.conf.task_always_eager = True
    try:
        response = _admin_action(admin_client, "poll_now", campaign)
    finally:
        app.conf.task_always_eager = False

    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.last_polled_at is not None
    assert campaign.snapshots.exists()


@pytest.mark.django_db
def test_admin_poll_now_skips_a_campaign_being_polled(acme, admin_client):
    campaign = campaign_for(acme.workspace, acme.account, 1, status=CampaignStatus.SENT)
    assert tracking.take_lease(campaign.pk)

    response = _admin_action(admin_client, "poll_now", campaign)

    assert "being polled already" in response.content.decode()


@pytest.mark.django_db
def test_admin_stop_goes_through_the_audited_service(acme, admin_client):
    campaign = campaign_for(acme.workspace, acme.account, 3)

    _admin_action(admin_client, "stop", campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert statuses(campaign) == {"cancelled": 3}
    assert AuditEvent.objects.filter(action=Action.CAMPAIGN_STOPPED).exists()


@pytest.mark.django_db
def test_admin_campaign_page_shows_counters_and_read_only_snapshots(acme, admin_client):
    campaign = campaign_for(acme.workspace, acme.account, 3, status=CampaignStatus.SENT)
    tracking.snapshot_if_changed(campaign)

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "3 messages: pending 3" in html
    assert "snapshots-0-taken_at" not in html  # read only: no form fields
    assert "Counter snapshot" in html
