"""Sender names' approval statuses are refreshed from each provider on a schedule (beat's
refresh-sender-names), per account, through the real adapters against the sandbox."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from crier.celery import app
from providers import tasks
from providers.models import ProviderAccount, SenderName
from providers.sandbox.accounts import provision
from providers.sandbox.models import SandboxAccount
from providers.sandbox.models import SenderName as RemoteSender


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def account_on(transactional_db, live_server, acme):
    def make(slug: str) -> ProviderAccount:
        account = ProviderAccount(
            workspace=acme.workspace, provider=slug, name=f"{slug} refresh",
            api_base_url=f"{live_server.url}/sandbox/{slug}",
        )  # fmt: skip
        account.credentials = provision(slug, name=f"refresh-{slug}")
        account.save()
        return account

    return make


def remote(slug: str, name: str):
    return RemoteSender.objects.get(
        account__name=f"refresh-{slug}", account__provider=slug, name=name
    )


# smsdrop lists no sender names (its account info is credits only).
@pytest.mark.parametrize("slug", ["bsg", "mobizon"])
def test_a_status_the_provider_changed_is_picked_up(account_on, eager, slug):
    account = account_on(slug)
    pending = RemoteSender.objects.filter(
        account__name=f"refresh-{slug}", status=RemoteSender.Status.PENDING
    ).first()
    ours = SenderName.objects.create(account=account, value=pending.name, status="pending")
    pending.status = RemoteSender.Status.APPROVED
    pending.save()

    assert tasks.refresh_account_senders(account.pk)["changed"] == 1
    ours.refresh_from_db()
    assert ours.status == SenderName.Status.APPROVED


def test_names_the_account_does_not_have_are_not_imported(account_on, eager):
    account = account_on("bsg")
    tasks.refresh_account_senders(account.pk)
    assert not account.senders.exists()


def test_an_error_is_recorded_on_the_account_and_others_go_on(account_on, eager, acme):
    broken, good = account_on("bsg"), account_on("mobizon")
    for account in (broken, good):
        SenderName.objects.create(account=account, value="Crier", status="pending")
    SandboxAccount.objects.filter(name="refresh-bsg").update(api_key="live_revoked_0000000")

    assert tasks.refresh_sender_names() == {"queued": 3}  # with Acme's own BSG account
    broken.refresh_from_db()
    good.refresh_from_db()
    assert broken.last_error
    assert good.last_error == "" and good.balance_checked_at is not None


def test_the_run_is_bounded_and_skips_disabled_accounts(account_on, monkeypatch, acme):
    queued = []
    monkeypatch.setattr(tasks.refresh_account_senders, "delay_on_commit", queued.append)
    monkeypatch.setattr(tasks, "SENDER_REFRESH_LIMIT", 2)
    accounts = [account_on(slug) for slug in ("bsg", "mobizon", "smsdrop")]
    for account in accounts:
        SenderName.objects.create(account=account, value="Crier")
    ProviderAccount.objects.filter(pk=accounts[0].pk).update(is_active=False)

    assert tasks.refresh_sender_names() == {"queued": 2}
    assert accounts[0].pk not in queued


def test_beat_runs_it_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-sender-names"]
    assert entry == {"task": "providers.tasks.refresh_sender_names", "schedule": 3600}


def test_a_credit_provider_s_balance_is_recorded_as_credits(account_on, eager):
    smsdrop, bsg = account_on("smsdrop"), account_on("bsg")
    for account in (smsdrop, bsg):
        tasks.refresh_account(account.pk)
        account.refresh_from_db()
    credits = int(SandboxAccount.objects.get(name="refresh-smsdrop").balance)
    assert smsdrop.balance_in_credits and smsdrop.balance_text == f"{credits:,} credits"
    assert not bsg.balance_in_credits and bsg.balance_text.endswith(f" {bsg.currency}")


def test_account_pages_show_credits_as_credits(as_role, acme):
    acme.account.balance, acme.account.balance_in_credits = 10000, True
    acme.account.save()
    client = as_role("viewer")
    for url in (reverse("account_list"), reverse("account_detail", args=[acme.account.pk])):
        html = client.get(url).text
        assert "10,000 credits" in html and "10,000.00" not in html
