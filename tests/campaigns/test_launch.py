"""Launching, pausing, resuming, stopping and retrying a campaign: the rules and their pages."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AuditEvent
from campaigns import services
from campaigns.models import Batch, Campaign, Message
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.base import AccountInfo
from providers.models import ProviderAccount

RICH = AccountInfo(currency="EUR", balance=Decimal("1000"))
POOR = AccountInfo(currency="EUR", balance=Decimal("0.01"))


@pytest.fixture
def draft(acme):
    campaign = acme.campaign
    campaign.text = "Hello"
    campaign.sender = acme.sender.value
    campaign.save()
    acme.account.currency = "EUR"
    acme.account.save()
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701000{n:04d}", country="KZ") for n in range(20)
    )
    return campaign


def test_a_ready_draft_is_scheduled_with_its_price_frozen_and_an_audit_event(draft, acme):
    campaign = services.launch(draft, acme.user("sender"), funds=RICH)

    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.launched_by == acme.user("sender")
    assert Decimal(campaign.estimate.pop("total")) == 20 * acme.rate.price
    assert campaign.estimate == {
        "currency": "EUR",
        "messages": 20,
        "segments": 20,
        "unpriced_messages": 0,
    }
    event = AuditEvent.objects.get(action="campaign_launched")
    assert event.details["recipients"] == 20 and event.actor_name == "sam"


def test_a_second_launch_changes_nothing(draft, acme):
    services.launch(draft, acme.user("sender"), funds=RICH)

    with pytest.raises(services.CampaignRuleError, match="not a draft"):
        services.launch(draft, acme.user("owner"), funds=RICH)
    assert AuditEvent.objects.filter(action="campaign_launched").count() == 1


def test_an_insufficient_balance_blocks_the_launch_with_what_to_top_up(draft, acme):
    with pytest.raises(services.CampaignRuleError, match=r"top up at least 0\.69 EUR"):
        services.launch(draft, acme.user("sender"), funds=POOR)
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_destinations_without_a_rate_need_the_users_confirmation(draft, acme):
    Message.objects.create(campaign=draft, phone="+998901234567", country="UZ")

    with pytest.raises(services.CampaignRuleError, match="1 recipients are in countries without"):
        services.launch(draft, acme.user("sender"), funds=RICH)
    campaign = services.launch(draft, acme.user("sender"), funds=RICH, confirm_unpriced=True)
    assert campaign.estimate["unpriced_messages"] == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"text": ""}, "Write the message in step 2."),
        ({"sender": ""}, "Step 1: BSG needs a sender name on every SMS: choose one."),
        ({"account": None}, "Choose a provider account in step 1."),
    ],
)
def test_an_incomplete_draft_says_what_is_missing(draft, acme, change, problem):
    Campaign.objects.filter(pk=draft.pk).update(**change)
    draft.refresh_from_db()

    assert problem in services.readiness(draft, funds=RICH).problems


def on_provider(campaign, slug: str, credentials: dict) -> Campaign:
    account = ProviderAccount(workspace=campaign.workspace, provider=slug, name=slug)
    account.credentials = credentials
    account.save()
    campaign.account = account
    campaign.save()
    return campaign


SMSDROP = {"email": "a@example.com", "password": "p"}


@pytest.mark.parametrize(
    ("slug", "credentials", "change", "problem"),
    [
        (
            "smsdrop",
            SMSDROP,
            {"text": "Hi {name}"},
            "Step 2: smsdrop does not offer a different text per recipient.",
        ),
        (
            "smsdrop",
            SMSDROP,
            {"text": "Привет", "flash": True},
            "Step 4: smsdrop sends flash SMS in the GSM alphabet only",
        ),
        (
            "bsg",
            {"api_key": "live_k"},
            {"channel": "voice", "voice_kind": "tts", "voice": "", "language": "en"},
            "Step 2: BSG knows the voices Sonya, Dariya, Ostap, Amala: choose one of them.",
        ),
        (
            "bsg",
            {"api_key": "live_k"},
            {"channel": "voice", "voice_kind": "ssml", "ssml": "<speak>Hi</speak>"},
            "Step 2: BSG does not offer voice messages as SSML.",
        ),
    ],
)
def test_what_the_provider_would_refuse_blocks_the_launch(
    draft, acme, slug, credentials, change, problem
):
    campaign = on_provider(draft, slug, credentials)
    Campaign.objects.filter(pk=campaign.pk).update(**change)
    campaign.refresh_from_db()

    with pytest.raises(services.CampaignRuleError, match=re.escape(problem)):
        services.launch(campaign, acme.user("sender"), funds=RICH)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_stop_listed_numbers_are_left_out_at_launch(draft, acme):
    acme.stop_entry.phone = "+77010000003"
    acme.stop_entry.save()

    assert services.readiness(draft, funds=RICH).stop_listed == 1
    services.launch(draft, acme.user("sender"), funds=RICH)
    left_out = draft.messages.get(phone="+77010000003")
    assert (left_out.status, left_out.error_code) == ("cancelled", "stop_listed")


def test_stop_cancels_what_has_not_gone_out_and_asks_the_provider_for_the_rest(
    draft, acme, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENDING)
    out = Batch.objects.create(campaign=draft, key="a" * 32, status=BatchStatus.SUBMITTED)
    waiting = Batch.objects.create(campaign=draft, key="b" * 32)
    ids = list(draft.messages.values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[:5]).update(status="queued", batch=out)
    Message.objects.filter(pk__in=ids[5:10]).update(status="submitting", batch=waiting)

    with django_capture_on_commit_callbacks() as callbacks:
        cancelled = services.stop(draft, acme.user("sender"))

    assert cancelled == 15
    assert len(callbacks) == 1  # the provider side is stopped by a task, after the commit
    waiting.refresh_from_db()
    assert waiting.status == BatchStatus.CANCELLED
    assert draft.messages.filter(status="queued").count() == 5
    assert AuditEvent.objects.get(action="campaign_stopped").details["cancelled"] == 15


def test_retry_sends_failed_messages_again_under_new_references(draft, acme):
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENT)
    failed = list(draft.messages.all()[:3])
    Message.objects.filter(pk__in=[m.pk for m in failed]).update(
        status=MessageStatus.FAILED, error_reason="refused"
    )

    assert services.retry_failed(draft, acme.user("sender")) == 3

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.SENDING
    for before in failed:
        after = Message.objects.get(pk=before.pk)
        assert after.status == MessageStatus.PENDING and after.attempt == 2
        assert after.reference != before.reference and len(after.reference) == 32
        assert after.error_reason == ""


def test_retry_resends_only_what_the_provider_certainly_did_not_take(draft, acme, as_role):
    """Refused batches go again; a batch still being looked up and messages left unknown never
    do, and the confirmation says so. A batch the provider called a duplicate never goes again,
    even if its messages were somehow marked failed."""
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENT)
    refused = Batch.objects.create(campaign=draft, key="a" * 32, status=BatchStatus.FAILED)
    checking = Batch.objects.create(
        campaign=draft, key="b" * 32, status=BatchStatus.UNKNOWN, size=3
    )
    ids = list(draft.messages.values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[:4]).update(status="failed", batch=refused)
    Message.objects.filter(pk__in=ids[4:7]).update(status="submitting", batch=checking)
    Message.objects.filter(pk__in=ids[9:10]).update(status="unknown", error_code="unconfirmed")

    page = as_role("sender").get(reverse("campaign_detail", args=[draft.pk])).content.decode()
    assert "Send 4 failed messages again" in page
    assert "3 other messages are not included: Crier is still checking" in page
    assert "1 message shown as Unknown is not included" in page

    duplicate = Batch.objects.create(
        campaign=draft, key="c" * 32, status=BatchStatus.FAILED, provider_has_it=True
    )
    Message.objects.filter(pk__in=ids[7:9]).update(status="failed", batch=duplicate)
    assert services.retry_failed(draft, acme.user("sender")) == 4
    assert set(Message.objects.filter(pk__in=ids[:4]).values_list("status", flat=True)) == {
        "pending"
    }
    assert Message.objects.filter(pk__in=ids[7:9], status="failed").count() == 2
    assert Message.objects.filter(pk__in=ids[4:7], status="submitting").count() == 3


def test_pause_and_resume_check_where_they_start(draft, acme):
    with pytest.raises(services.CampaignRuleError):
        services.pause(draft, acme.user("sender"))  # a draft is not sending
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENDING)

    services.pause(draft, acme.user("sender"))
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.PAUSED
    services.resume(draft, acme.user("sender"))
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.SENDING


# --- Pages -----------------------------------------------------------------------------------


def test_the_launch_page_shows_recipients_price_and_problems(as_role, draft, monkeypatch):
    monkeypatch.setattr("campaigns.pages.sending.account_funds", lambda campaign: POOR)
    response = as_role("sender").get(reverse("campaign_launch", args=[draft.pk]))

    page = response.content.decode()
    assert 'data-testid="launch-recipients">20' in page
    assert "0.70 EUR" in page
    assert "top up at least 0.69 EUR" in page
    assert 'data-testid="launch-confirm"' not in page
    assert 'data-testid="launch-problems"' not in page  # the balance is the only problem


def test_launching_from_the_page_redirects_to_the_campaign(as_role, draft, monkeypatch):
    monkeypatch.setattr("campaigns.pages.sending.account_funds", lambda campaign: RICH)
    client = as_role("sender")

    response = client.post(reverse("campaign_launch", args=[draft.pk]))
    again = client.post(reverse("campaign_launch", args=[draft.pk]))

    assert response.status_code == 302 and again.status_code == 302
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.SCHEDULED
    assert AuditEvent.objects.filter(action="campaign_launched").count() == 1


def test_a_viewer_cannot_launch(as_role, draft):
    response = as_role("viewer").post(reverse("campaign_launch", args=[draft.pk]))

    assert response.status_code == 403
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.DRAFT


def test_the_progress_card_counts_messages_and_stops_polling_when_done(as_role, draft):
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENDING)
    Message.objects.filter(pk__in=draft.messages.values("pk")[:4]).update(status="failed")
    client = as_role("viewer")

    live = client.get(reverse("campaign_progress", args=[draft.pk]), headers={"HX-Request": "true"})
    # Sent: delivery reports are still coming, so the card goes on polling.
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENT)
    sent = client.get(reverse("campaign_progress", args=[draft.pk]), headers={"HX-Request": "true"})
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.COMPLETED)
    done = client.get(reverse("campaign_progress", args=[draft.pk]), headers={"HX-Request": "true"})

    assert live.status_code == 200 and 'hx-trigger="every 5s"' in live.content.decode()
    assert sent.status_code == 200
    assert 'data-status="failed"' in live.content.decode()
    assert 'data-testid="handed-over">0 of 20<' in live.content.decode()  # failed: not handed
    assert 'data-testid="pause"' not in live.content.decode()  # a viewer has no actions
    assert done.status_code == 286  # htmx: stop polling


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_launches_launch_once(acme):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the PostgreSQL run exercises the race")
    campaign = acme.campaign
    Campaign.objects.filter(pk=campaign.pk).update(text="Hi", sender=acme.sender.value)
    acme.account.currency = "EUR"
    acme.account.save()
    Message.objects.create(campaign=campaign, phone="+77010000001", country="KZ")
    results = []

    def launch():
        try:
            services.launch(Campaign.objects.get(pk=campaign.pk), acme.user("sender"), funds=RICH)
            results.append("launched")
        except services.CampaignRuleError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["launched", "refused"]
    assert AuditEvent.objects.filter(action="campaign_launched").count() == 1


def test_the_launch_page_says_what_the_provider_would_refuse_and_offers_no_launch(
    draft, acme, client
):
    campaign = on_provider(draft, "smsdrop", SMSDROP)
    Campaign.objects.filter(pk=campaign.pk).update(text="Hi {name}")
    client.force_login(acme.user("sender"))

    page = client.get(reverse("campaign_launch", args=[campaign.pk])).text

    assert "Step 2: smsdrop does not offer a different text per recipient." in page
    assert 'data-testid="launch-form"' not in page
