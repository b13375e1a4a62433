"""What gets recorded, and when: only for a workspace with an endpoint subscribed, in the
transaction of the change, one event per thousand messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from campaigns import contact_history, services
from campaigns.models import Campaign, Message
from campaigns.recipients import imports
from campaigns.tracking import polling as tracking
from core.statuses import CampaignStatus, MessageStatus
from providers import services as provider_services
from providers.base import AccountInfo, MessageStatusReport
from providers.sandbox.accounts import provision
from providers.sandbox.models import SandboxAccount
from webhooks import events
from webhooks.models import SUBSCRIBABLE, Endpoint, Event, EventType

pytestmark = pytest.mark.usefixtures("no_sample_webhook")

RICH = AccountInfo(currency="EUR", balance=Decimal("1000"))


def listen(tenant, types=None) -> Endpoint:
    return Endpoint.objects.create(
        workspace=tenant.workspace,
        url="https://hooks.example.com/crier",
        event_types=types or [value for value, _label in SUBSCRIBABLE],
    )


def told(type: str) -> list[dict]:
    return list(Event.objects.filter(type=type).order_by("pk").values_list("data", flat=True))


def messages_told() -> list[dict]:
    return [m for data in told(EventType.MESSAGE_STATUS) for m in data["messages"]]


@pytest.fixture
def draft(acme):
    campaign = acme.campaign
    campaign.text, campaign.sender = "Hello", acme.sender.value
    campaign.save()
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701000{n:04d}", country="KZ") for n in range(20)
    )
    return campaign


def queued(campaign: Campaign, count: int) -> list[Message]:
    ids = list(campaign.messages.values_list("pk", flat=True)[:count])
    Message.objects.filter(pk__in=ids).update(status=MessageStatus.QUEUED)
    return list(Message.objects.filter(pk__in=ids))


def test_nothing_is_recorded_where_nobody_listens(acme, globex, draft):
    listen(globex)  # another workspace's endpoint changes nothing for Acme
    Endpoint.objects.filter(pk=listen(acme).pk).update(enabled=False)  # a disabled one neither
    mine = queued(draft, 5)

    reports = [MessageStatusReport("delivered", "", True, reference=m.reference) for m in mine]
    assert tracking.apply_statuses(draft, reports) == 5
    assert events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {}) is None
    assert not Event.objects.filter(workspace=acme.workspace).exists()


def test_an_endpoint_hears_only_the_types_it_chose(acme):
    listen(acme, [EventType.CAMPAIGN_COMPLETED])
    assert events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {}) is None
    assert events.record(acme.workspace.pk, EventType.CAMPAIGN_COMPLETED, {}) is not None


def test_an_event_exists_only_if_its_change_committed(acme):
    listen(acme)
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {})
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()


def test_polled_statuses_are_told_a_thousand_to_an_event(acme, draft):
    listen(acme)
    Message.objects.bulk_create(
        Message(campaign=draft, phone=f"+7702{n:07d}", country="KZ", status="queued")
        for n in range(2_480)
    )
    mine = list(draft.messages.filter(status="queued"))
    reports = [
        MessageStatusReport("undelivered", "", True, reference=m.reference, error_code="E7")
        for m in mine
    ]

    assert tracking.apply_statuses(draft, reports) == 2_480

    sizes = [len(data["messages"]) for data in told(EventType.MESSAGE_STATUS)]
    assert sizes == [1000, 1000, 480]
    first = messages_told()[0]
    stored = Message.objects.get(pk=first["id"])
    assert first["reference"] == stored.reference and first["phone"] == stored.phone
    assert (first["status"], first["error_code"]) == ("undelivered", "E7")
    assert {m["id"] for m in messages_told()} == {m.pk for m in mine}
    # A repeated report changes nothing, so it tells nothing.
    assert tracking.apply_statuses(draft, reports) == 0
    assert len(told(EventType.MESSAGE_STATUS)) == 3


def test_launch_pause_resume_and_stop_are_told_with_the_cancelled_messages(acme, draft):
    listen(acme)
    user = acme.user("sender")
    acme.stop_entry.phone = "+77010000003"
    acme.stop_entry.save()

    services.launch(draft, user, funds=RICH)
    services.pause(draft, user)
    services.resume(draft, user)
    services.stop(draft, user)

    kinds = Event.objects.exclude(type=EventType.MESSAGE_STATUS).values_list("type", flat=True)
    assert list(kinds.order_by("pk")) == [
        "campaign.launched",
        "campaign.paused",
        "campaign.resumed",
        "campaign.stopped",
    ]
    stopped = told(EventType.CAMPAIGN_STOPPED)[0]["campaign"]
    assert (stopped["id"], stopped["status"]) == (draft.pk, "cancelled")
    assert stopped["counters"]["cancelled"] == 20
    cancelled = messages_told()
    assert len(cancelled) == 20 and {m["status"] for m in cancelled} == {"cancelled"}
    assert cancelled[0]["phone"] == "+77010000003"  # the one left out at launch, first


def test_a_retry_tells_each_message_back_to_pending_under_its_new_reference(acme, draft):
    listen(acme)
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENT)
    failed = list(draft.messages.all()[:3])
    Message.objects.filter(pk__in=[m.pk for m in failed]).update(status=MessageStatus.FAILED)

    services.retry_failed(draft, acme.user("sender"))

    again = {m["id"]: m for m in messages_told()}
    assert again.keys() == {m.pk for m in failed}
    for message in failed:
        assert again[message.pk]["status"] == "pending"
        assert again[message.pk]["reference"] == Message.objects.get(pk=message.pk).reference


def test_an_erasure_tells_the_cancellation_under_the_stand_in_never_the_number(acme, draft):
    listen(acme)
    Message.objects.create(campaign=draft, phone=acme.contact.phone, country="KZ")
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENDING)

    erasure = contact_history.erase(acme.contact, acme.user("admin"))

    [message] = messages_told()
    assert (message["phone"], message["status"]) == (erasure.stand_in, "cancelled")
    assert acme.contact.phone not in str(told(EventType.MESSAGE_STATUS))


def test_a_finished_import_is_told(acme):
    listen(acme)
    upload = SimpleUploadedFile("people.csv", b"phone\n+77011112233\n+77011112244\nnope\n")
    imp = imports.create(acme.campaign, None, upload=upload)
    imports.confirm(imp, "add")
    imports.run(imp.pk)

    [data] = told(EventType.IMPORT_FINISHED)
    assert data["import"] | {"finished_at": None} == {
        "id": imp.pk,
        "kind": "recipients",
        "status": "done",
        "error": "",
        "rows": 3,
        "accepted": 2,
        "rejected": 1,
        "finished_at": None,
    }


@pytest.mark.django_db(transaction=True)
def test_a_low_balance_is_told_once_when_it_falls_below_the_accounts_level(acme, live_server):
    listen(acme)
    account = acme.account
    account.api_base_url = f"{live_server.url}/sandbox/bsg"
    account.credentials = provision("bsg", name="low")
    account.save()
    remote = SandboxAccount.objects.get(provider="bsg", name="low")

    account.low_balance = Decimal("50")
    account.save()
    remote.balance = Decimal("80")
    remote.save()
    provider_services.check_connection(account)  # above the level: nothing
    remote.balance = Decimal("20.5")
    remote.save()
    provider_services.check_connection(account)  # fell below: told
    provider_services.check_connection(account)  # still low: not told again

    [data] = told(EventType.BALANCE_LOW)
    assert Decimal(data["balance"]) == Decimal("20.5")
    assert data["account"]["id"] == account.pk
    assert Decimal(data["low_balance"]) == Decimal("50")


def test_an_import_and_its_event_commit_together(acme, monkeypatch):
    """The event is written inside the transaction that ends the import: if it cannot be
    written, the import is not stored as done either (it fails, and that is told)."""
    from webhooks import events as recorded

    listen(acme)
    upload = SimpleUploadedFile("people.csv", b"phone\n+77011112233\n")
    imp = imports.create(acme.campaign, None, upload=upload)
    imports.confirm(imp, "add")
    real, calls = recorded.import_finished, []

    def failing_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("the outbox is unreachable")
        return real(*args)

    monkeypatch.setattr(recorded, "import_finished", failing_once)
    imports.run(imp.pk)

    imp.refresh_from_db()
    assert imp.status == "failed" and not acme.campaign.messages.exists()
    [data] = told(EventType.IMPORT_FINISHED)
    assert data["import"]["status"] == "failed"


def test_an_import_abandoned_by_its_worker_is_told(acme, settings):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import RecipientImport

    listen(acme)
    upload = SimpleUploadedFile("people.csv", b"phone\n+77011112233\n")
    imp = imports.create(acme.campaign, None, upload=upload)
    long_ago = timezone.now() - timedelta(seconds=settings.CRIER_IMPORT_STALE_SECONDS + 60)
    RecipientImport.objects.filter(pk=imp.pk).update(
        status="running", started_at=long_ago, heartbeat_at=long_ago
    )
    assert imports.fail_abandoned() == 1
    assert imports.fail_abandoned() == 0
    [data] = told(EventType.IMPORT_FINISHED)
    assert (data["import"]["id"], data["import"]["status"]) == (imp.pk, "failed")
