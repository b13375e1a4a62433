"""CampaignCounters are kept by database triggers (migration 0007): every way a message is
inserted, changes status or is deleted moves them, and they always equal a GROUP BY."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import COUNTED_STATUSES, Campaign, CampaignCounters, Message, references
from core.statuses import MessageStatus

pytestmark = pytest.mark.django_db


def grouped(campaign: Campaign) -> dict[str, int]:
    counts = dict.fromkeys(COUNTED_STATUSES, 0)
    for row in campaign.messages.values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def counters(campaign: Campaign) -> dict[str, int]:
    row = CampaignCounters.objects.filter(campaign=campaign).first()
    return row.as_dict() if row else dict.fromkeys(COUNTED_STATUSES, 0)


def total(campaign: Campaign) -> int:
    row = CampaignCounters.objects.filter(campaign=campaign).first()
    return row.total if row else 0


def add(campaign: Campaign, count: int, status: str = MessageStatus.PENDING) -> None:
    Message.objects.bulk_create(
        Message(campaign=campaign, reference=ref, phone=f"+7701{i:07d}", status=status)
        for i, ref in enumerate(references(count))
    )


def test_insert_update_delete_move_the_counters(acme):
    campaign = acme.campaign
    other = Campaign.objects.create(workspace=acme.workspace, name="Other")
    add(campaign, 5)
    add(other, 2, MessageStatus.QUEUED)
    assert counters(campaign)["pending"] == 5 and total(campaign) == 5
    assert counters(other)["queued"] == 2 and total(other) == 2

    ids = list(campaign.messages.values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[:3]).update(status=MessageStatus.QUEUED)
    Message.objects.filter(pk=ids[0]).update(status=MessageStatus.DELIVERED)
    # An update that changes no status leaves the counters alone.
    Message.objects.filter(pk__in=ids).update(provider_message_id="x")
    assert counters(campaign) == grouped(campaign)
    assert counters(campaign)["delivered"] == 1 and counters(campaign)["queued"] == 2

    Message.objects.filter(pk=ids[1]).delete()
    assert counters(campaign) == grouped(campaign) and total(campaign) == 4
    assert counters(other) == grouped(other)  # untouched by the other campaign's changes


def test_one_statement_over_two_campaigns(acme):
    other = Campaign.objects.create(workspace=acme.workspace, name="Other")
    add(acme.campaign, 3)
    add(other, 4)
    Message.objects.filter(campaign__in=[acme.campaign, other]).update(status=MessageStatus.SENT)
    assert counters(acme.campaign) == grouped(acme.campaign)
    assert counters(other) == grouped(other)


def test_deleting_the_campaign_deletes_its_counters(acme):
    add(acme.campaign, 3)
    acme.campaign.delete()
    assert not CampaignCounters.objects.filter(campaign_id=acme.campaign.pk).exists()


def test_triggers_exist_for_this_database():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'campaigns_message_counts_%'"
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'campaigns_message_counts_%'"
            )
        assert cursor.fetchone()[0] == 3


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["update", "delete", "insert"]),
            st.lists(st.integers(0, 11), min_size=1, max_size=6),
            st.sampled_from(COUNTED_STATUSES),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_counters_always_equal_a_group_by(acme, steps):
    campaign = Campaign.objects.create(workspace=acme.workspace, name="Property")
    add(campaign, 12)
    for action, picks, status in steps:
        ids = list(campaign.messages.values_list("pk", flat=True))
        chosen = [ids[i % len(ids)] for i in picks] if ids else []
        if action == "update":
            Message.objects.filter(pk__in=chosen).update(status=status)
        elif action == "delete":
            Message.objects.filter(pk__in=chosen).delete()
        else:
            add(campaign, len(picks), status)
        assert counters(campaign) == grouped(campaign)
        assert total(campaign) == campaign.messages.count()
