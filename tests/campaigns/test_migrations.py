"""Migrations that rename what holds data keep the data: run forward (and back) on a database
that has campaigns, batches and messages in it, on whichever database the suite runs on."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("campaigns", "0013_dispatch_links")
AFTER = ("campaigns", "0014_batch")


def migrate(*targets):
    """The database at ``targets`` (other apps as they are); returns its models as they are
    then."""
    MigrationExecutor(connection).migrate(list(targets))
    loader = MigrationExecutor(connection).loader
    return loader.project_state(list(loader.applied_migrations)).apps


@pytest.fixture
def at_the_end():
    """Whatever a test migrated to, the suite goes on with every migration applied."""
    yield
    migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())


def seed(apps) -> dict:
    """A sent campaign with a batch of two messages and one message not claimed yet."""
    workspace = apps.get_model("dashboard", "Workspace").objects.create(name="Migrated")
    account = apps.get_model("providers", "ProviderAccount").objects.create(
        workspace=workspace, provider="bsg", name="BSG"
    )
    campaign = apps.get_model("campaigns", "Campaign").objects.create(
        workspace=workspace, account=account, name="Renamed", text="Hi", status="sent"
    )
    dispatch = apps.get_model("campaigns", "Dispatch").objects.create(
        campaign=campaign, key="k" * 32, status="submitted", provider_campaign_id="77", size=2
    )
    message = apps.get_model("campaigns", "Message")
    for n, status in enumerate(["queued", "delivered"]):
        message.objects.create(
            campaign=campaign,
            reference=f"r{n}",
            phone=f"+7701000000{n}",
            status=status,
            dispatch=dispatch,
        )
    message.objects.create(campaign=campaign, reference="r9", phone="+77010000009")
    return {"campaign": campaign.pk, "batch": dispatch.pk}


def counters(apps, campaign: int) -> tuple[int, int, int, int]:
    row = apps.get_model("campaigns", "CampaignCounters").objects.get(campaign_id=campaign)
    return row.total, row.pending, row.queued, row.delivered


def test_dispatch_becomes_batch_with_its_rows_and_messages(at_the_end):
    seeded = seed(migrate(BEFORE))

    apps = migrate(AFTER)

    batch = apps.get_model("campaigns", "Batch").objects.get()
    assert (batch.pk, batch.key, batch.status) == (seeded["batch"], "k" * 32, "submitted")
    assert batch.provider_campaign_id == "77" and batch.campaign_id == seeded["campaign"]
    messages = apps.get_model("campaigns", "Message").objects.order_by("reference")
    assert list(messages.values_list("reference", "batch_id")) == [
        ("r0", seeded["batch"]),
        ("r1", seeded["batch"]),
        ("r9", None),
    ]
    assert list(batch.messages.values_list("reference", flat=True)) == ["r0", "r1"]
    assert counters(apps, seeded["campaign"]) == (3, 1, 1, 1)


def test_counters_triggers_survive_the_rename(at_the_end):
    """SQLite rebuilds the message table to rename its column, which drops its triggers."""
    seeded = seed(migrate(BEFORE))
    apps = migrate(AFTER)

    apps.get_model("campaigns", "Message").objects.filter(reference="r0").update(status="delivered")

    assert counters(apps, seeded["campaign"]) == (3, 1, 0, 2)


def test_batch_goes_back_to_dispatch(at_the_end):
    seeded = seed(migrate(BEFORE))
    migrate(AFTER)

    apps = migrate(BEFORE)

    dispatch = apps.get_model("campaigns", "Dispatch").objects.get()
    assert dispatch.pk == seeded["batch"] and dispatch.messages.count() == 2
    apps.get_model("campaigns", "Message").objects.filter(reference="r9").delete()
    assert counters(apps, seeded["campaign"]) == (2, 0, 1, 1)


def test_the_stop_list_becomes_opted_out_contacts_and_back(at_the_end):
    apps = migrate(("campaigns", "0014_batch"), ("contacts", "0001_initial"))
    workspace = apps.get_model("dashboard", "Workspace").objects.create(name="Opted out")
    Entry = apps.get_model("campaigns", "StopListEntry")
    Entry.objects.create(workspace=workspace, phone="+77010000001", note="asked by phone")
    Entry.objects.create(workspace=workspace, phone="+74951234567")
    Entry.objects.create(workspace=workspace, phone="+74957654321")
    apps.get_model("contacts", "Contact").objects.create(
        workspace=workspace, phone="+74951234567", name="Known before"
    )
    added = {e.phone: e.created_at for e in Entry.objects.all()}

    apps = migrate(("campaigns", "0015_audiences_templates"))
    contacts = apps.get_model("contacts", "Contact").objects.filter(workspace_id=workspace.pk)
    out = {c.phone: c for c in contacts}
    assert set(out) == {"+77010000001", "+74951234567", "+74957654321"}
    assert all(c.opted_out_at == added[c.phone] for c in out.values())
    assert out["+77010000001"].opt_out_note == "asked by phone"
    assert out["+77010000001"].country == "KZ"
    assert out["+74951234567"].name == "Known before"  # the book's contact, now opted out
    assert out["+74957654321"].time_zone == "Europe/Moscow"  # created, its zone derived

    apps = migrate(("campaigns", "0014_batch"), ("contacts", "0001_initial"))
    back = apps.get_model("campaigns", "StopListEntry").objects.filter(workspace_id=workspace.pk)
    assert {(e.phone, e.note, e.created_at) for e in back} == {
        ("+77010000001", "asked by phone", added["+77010000001"]),
        ("+74951234567", "", added["+74951234567"]),
        ("+74957654321", "", added["+74957654321"]),
    }
