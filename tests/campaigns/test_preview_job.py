"""The stored price estimate (campaigns.compose.pricing.estimate, estimate_or_job and run): reused
while it is fresh, computed again once anything it depends on changes, and computed by a worker,
with its progress, for a campaign too big to price during a request; the preview card polling it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.compose import pricing
from campaigns.models import Campaign, Estimate, EstimateStatus, Message
from campaigns.tasks import price_campaign
from core.statuses import MessageStatus
from providers.base import AccountInfo
from providers.models import ProviderAccount
from tests.campaigns.test_pricing import KZ_BEELINE, KZ_KCELL, UZ, add_recipients, set_rates
from workspaces.models import Role

HTMX = {"HX-Request": "true"}


@pytest.fixture
def campaign(acme) -> Campaign:
    campaign = acme.campaign
    campaign.text = "Hi {name}, the sale starts today"
    campaign.save()
    set_rates(acme.account, KZ="0.035", UZ="0.05")
    add_recipients(
        campaign,
        (KZ_KCELL, {"name": "Ann"}),
        (KZ_BEELINE, {"name": "Bo"}),
        (UZ, {"name": "Айгерим"}),  # UCS-2
    )
    return Campaign.objects.select_related("account").get(pk=campaign.pk)


@pytest.fixture
def big(settings, campaign) -> Campaign:
    """The campaign, over the limit the preview prices during a request."""
    settings.CRIER_PREVIEW_SYNC_LIMIT = 2
    return campaign


def forge(campaign: Campaign, total: str = "999") -> None:
    """Writes a price no computation gives into the stored estimate: what is shown after this
    was read back, not computed."""
    line = pricing.PriceLine("KZ", "KZ", messages=1, segments=1, price=Decimal(total))
    forged = pricing.PriceEstimate("USD", (line,), ())
    Estimate.objects.filter(campaign=campaign).update(result=forged.as_json())


def queued(campaign: Campaign, django_capture_on_commit_callbacks) -> Estimate:
    with django_capture_on_commit_callbacks() as callbacks:
        job = pricing.estimate_or_job(campaign)
    assert isinstance(job, Estimate)
    assert len(callbacks) == 1  # the task is sent once the row is committed
    return job


# --- Stored and reused ---------------------------------------------------------------------


def test_a_small_campaign_is_priced_at_once_and_the_estimate_stored(campaign):
    estimate = pricing.estimate_or_job(campaign)

    assert estimate == pricing.price(campaign)
    assert estimate.messages == 3
    stored = Estimate.objects.get(campaign=campaign)
    assert (stored.status, stored.fingerprint) == (
        EstimateStatus.DONE,
        pricing.fingerprint(campaign)[0],
    )
    assert pricing.PriceEstimate.from_json(stored.result) == estimate


def test_a_fresh_estimate_is_read_back_not_computed_again(campaign):
    pricing.estimate(campaign)
    forge(campaign)

    assert pricing.estimate(campaign).total == Decimal("999")
    assert pricing.estimate_or_job(campaign).total == Decimal("999")


def change_text(c):
    c.text = "Hello {name}!"
    c.save()


def change_policy(c):
    c.placeholder_policy = "strip"
    c.save()


def change_channel(c):
    c.channel = "voice"
    c.save()


def add_a_recipient(c):
    add_recipients(c, (KZ_KCELL.replace("123", "999"), {"name": "Cy"}))


def replace_a_recipient(c):
    c.messages.order_by("pk").first().delete()
    add_recipients(c, (KZ_KCELL, {"name": "Ann"}))


def send_one(c):
    Message.objects.filter(pk=c.messages.order_by("pk").first().pk).update(status="queued")


def edit_a_price_quietly(c):
    # A queryset update leaves updated_at alone: the fingerprint reads the prices themselves.
    c.account.rates.filter(country="KZ").update(price=Decimal("0.04"))


def add_a_rate(c):
    set_rates(c.account, KZ="0.035", UZ="0.05", p7701="0.03")


def change_the_currency(c):
    c.account.currency = "EUR"
    c.account.save()


def change_the_account(c):
    other = ProviderAccount(workspace=c.workspace, provider="bsg", name="Other")
    other.credentials = {"api_key": "live_other"}
    other.save()
    set_rates(other, KZ="0.02")
    c.account = other
    c.save()


@pytest.mark.parametrize(
    "change",
    [
        change_text,
        change_policy,
        change_channel,
        add_a_recipient,
        replace_a_recipient,
        send_one,
        edit_a_price_quietly,
        add_a_rate,
        change_the_currency,
        change_the_account,
    ],
)
def test_a_change_to_what_the_price_depends_on_is_never_shown_the_old_price(campaign, change):
    pricing.estimate(campaign)
    before = pricing.fingerprint(campaign)[0]
    forge(campaign)

    change(campaign)
    campaign = Campaign.objects.select_related("account").get(pk=campaign.pk)

    assert pricing.fingerprint(campaign)[0] != before
    assert pricing.estimate(campaign) == pricing.price(campaign)
    assert pricing.estimate_or_job(campaign) == pricing.price(campaign)


def test_the_launch_charges_the_estimate_the_preview_stored(campaign, acme):
    campaign.sender = acme.sender.value
    campaign.save()
    pricing.estimate_or_job(campaign)
    forge(campaign, "0.5")

    check = services.readiness(campaign, funds=AccountInfo(currency="USD", balance=Decimal(10)))

    assert check.estimate.total == Decimal("0.5")


# --- In the background ---------------------------------------------------------------------


def test_a_big_campaign_is_priced_by_a_worker(big, django_capture_on_commit_callbacks):
    job = queued(big, django_capture_on_commit_callbacks)
    assert (job.status, job.rows_done, job.rows_total) == (EstimateStatus.QUEUED, 0, 3)
    assert pricing.estimate_or_job(big) == job  # a second view waits for the same job

    summary = price_campaign(job.pk, job.token)  # what the worker runs

    assert summary == {"estimate": job.pk, "messages": 3, "total": str(pricing.price(big).total)}
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == (EstimateStatus.DONE, 3, 3)
    assert pricing.estimate_or_job(big) == pricing.price(big)


def test_the_worker_reports_its_progress(big, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(pricing, "CHUNK", 1)
    job = queued(big, django_capture_on_commit_callbacks)
    seen = []
    real_price = pricing.price

    def price_and_watch(campaign, progress):
        def watch(done):
            progress(done)
            seen.append(Estimate.objects.values_list("status", "rows_done", "rows_total").get())

        return real_price(campaign, progress=watch)

    monkeypatch.setattr(pricing, "price", price_and_watch)
    pricing.run(job.pk, job.token)

    assert seen == [("running", 1, 3), ("running", 2, 3), ("running", 3, 3)]


def test_a_computation_runs_once(big, django_capture_on_commit_callbacks):
    job = queued(big, django_capture_on_commit_callbacks)
    pricing.run(job.pk, job.token)
    assert pricing.run(job.pk, job.token) == {"estimate": job.pk, "skipped": "not queued"}


def test_a_computation_replaced_before_it_starts_does_nothing(
    big, django_capture_on_commit_callbacks
):
    old = queued(big, django_capture_on_commit_callbacks)
    add_a_recipient(big)
    new = queued(big, django_capture_on_commit_callbacks)

    assert pricing.run(old.pk, old.token) == {"estimate": old.pk, "skipped": "not queued"}
    new.refresh_from_db()
    assert (new.status, new.rows_total) == (EstimateStatus.QUEUED, 4)


def test_a_computation_replaced_while_it_runs_stores_nothing(
    big, monkeypatch, django_capture_on_commit_callbacks
):
    job = queued(big, django_capture_on_commit_callbacks)
    real_price = pricing.price

    def price_while_the_launch_prices_it_too(campaign, progress=None):
        if progress is None:  # the launch's own pricing
            return real_price(campaign)
        pricing.estimate(campaign)  # computed and stored meanwhile, under a new token
        forge(campaign)
        return real_price(campaign, progress=progress)

    monkeypatch.setattr(pricing, "price", price_while_the_launch_prices_it_too)

    assert pricing.run(job.pk, job.token) == {"estimate": job.pk, "skipped": "replaced"}
    assert pricing.PriceEstimate.from_json(Estimate.objects.get().result).total == Decimal(999)


def test_a_failed_computation_says_so(big, monkeypatch, django_capture_on_commit_callbacks, caplog):
    job = queued(big, django_capture_on_commit_callbacks)

    def broken(campaign, progress):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pricing, "price", broken)

    assert pricing.run(job.pk, job.token)["status"] == EstimateStatus.FAILED
    job.refresh_from_db()
    assert job.status == EstimateStatus.FAILED
    assert "unexpected error" in job.error
    assert "Pricing campaign" in caplog.text
    assert pricing.job_to_report(big) == job  # the poll shows it and stops


def test_a_stalled_computation_is_started_again(big, django_capture_on_commit_callbacks):
    job = queued(big, django_capture_on_commit_callbacks)
    Estimate.objects.filter(pk=job.pk).update(
        status=EstimateStatus.RUNNING, updated_at=timezone.now() - timedelta(minutes=3)
    )
    assert pricing.job_to_report(big) is None

    again = queued(big, django_capture_on_commit_callbacks)

    assert again.pk == job.pk and again.token != job.token
    assert again.status == EstimateStatus.QUEUED


# --- The preview card ----------------------------------------------------------------------


def get(client, name, campaign):
    return client.get(reverse(name, args=[campaign.pk]), headers=HTMX)


def test_a_small_preview_shows_the_price_without_polling(as_role, campaign):
    response = get(as_role(Role.VIEWER), "campaign_preview", campaign)
    assert 'data-testid="total">0.12 USD<' in response.text  # 1 + 1 KZ parts, 1 UZ part
    assert "every 1s" not in response.text


def test_a_big_preview_polls_the_progress_then_shows_the_price(
    as_role, big, django_capture_on_commit_callbacks
):
    client = as_role(Role.VIEWER)
    with django_capture_on_commit_callbacks() as callbacks:
        response = get(client, "campaign_preview", big)
    assert len(callbacks) == 1
    assert 'hx-trigger="every 1s"' in response.text
    assert "Waiting for a worker to price the 3 recipients" in response.text
    assert 'data-testid="price-table"' not in response.text

    job = Estimate.objects.get(campaign=big)
    Estimate.objects.filter(pk=job.pk).update(status=EstimateStatus.RUNNING, rows_done=1)
    polled = get(client, "campaign_estimate", big)
    assert polled.status_code == 200
    assert "<b>1</b> done (33 %)" in polled.text
    assert 'hx-trigger="every 1s"' in polled.text

    Estimate.objects.filter(pk=job.pk).update(status=EstimateStatus.QUEUED)
    pricing.run(job.pk, job.token)
    polled = get(client, "campaign_estimate", big)
    assert polled.status_code == 286  # HTMX stops polling
    assert 'data-testid="total">0.12 USD<' in polled.text
    assert "every 1s" not in polled.text


def test_a_price_gone_stale_while_polling_is_computed_again(
    as_role, big, django_capture_on_commit_callbacks
):
    job = queued(big, django_capture_on_commit_callbacks)
    pricing.run(job.pk, job.token)
    add_a_recipient(big)

    with django_capture_on_commit_callbacks() as callbacks:
        polled = get(as_role(Role.VIEWER), "campaign_estimate", big)

    assert len(callbacks) == 1
    assert polled.status_code == 200
    assert 'data-testid="price-table"' not in polled.text
    assert "price the 4 recipients" in polled.text


def test_a_failed_computation_stops_the_polling_and_refresh_starts_again(
    as_role, big, django_capture_on_commit_callbacks
):
    job = queued(big, django_capture_on_commit_callbacks)
    Estimate.objects.filter(pk=job.pk).update(status=EstimateStatus.FAILED, error="It broke.")
    client = as_role(Role.VIEWER)

    polled = get(client, "campaign_estimate", big)
    assert polled.status_code == 286
    assert "It broke." in polled.text

    with django_capture_on_commit_callbacks() as callbacks:
        refreshed = get(client, "campaign_preview", big)
    assert len(callbacks) == 1
    assert "Waiting for a worker" in refreshed.text


def test_only_pending_messages_count_towards_the_limit(as_role, big):
    Message.objects.filter(campaign=big, phone=UZ).update(status=MessageStatus.CANCELLED)
    response = get(as_role(Role.VIEWER), "campaign_preview", big)
    assert 'data-testid="total">0.07 USD<' in response.text
