"""Pausing, resuming, retrying and deleting a campaign from its page each leave one audit
event naming the campaign, who did it and what it touched."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import Action, AuditEvent
from campaigns.models import Campaign, Message
from core.statuses import CampaignStatus
from workspaces.models import Role


def act(client, name: str, campaign) -> AuditEvent:
    response = client.post(reverse(name, args=[campaign.pk]))
    assert response.status_code == 302, response
    (event,) = AuditEvent.objects.all()
    assert (event.workspace, event.actor_name) == (campaign.workspace, "sam")
    assert event.target == f"campaign {campaign}"
    return event


@pytest.fixture
def sending(acme):
    Campaign.objects.filter(pk=acme.campaign.pk).update(status=CampaignStatus.SENDING)
    acme.campaign.refresh_from_db()
    return acme.campaign


def test_pausing_is_recorded(as_role, sending):
    event = act(as_role(Role.SENDER), "campaign_pause", sending)
    assert event.action == Action.CAMPAIGN_PAUSED
    assert event.details == {"campaign_id": sending.pk}


def test_resuming_is_recorded(as_role, sending):
    Campaign.objects.filter(pk=sending.pk).update(status=CampaignStatus.PAUSED)
    event = act(as_role(Role.SENDER), "campaign_resume", sending)
    assert event.action == Action.CAMPAIGN_RESUMED
    assert event.details == {"campaign_id": sending.pk}


def test_retrying_is_recorded_with_how_many_go_again(as_role, sending):
    Message.objects.bulk_create(
        Message(campaign=sending, phone=f"+7701555000{n}", status=status)
        for n, status in enumerate(["failed", "failed", "delivered"])
    )
    event = act(as_role(Role.SENDER), "campaign_retry", sending)
    assert event.action == Action.CAMPAIGN_RETRIED
    assert event.details == {"campaign_id": sending.pk, "messages": 2}


def test_deleting_a_draft_is_recorded_and_outlives_it(as_role, acme):
    draft = acme.campaign
    event = act(as_role(Role.SENDER), "campaign_delete", draft)
    assert event.action == Action.CAMPAIGN_DELETED
    assert not Campaign.objects.filter(pk=draft.pk).exists()
    assert event.target == f"campaign {draft}"


def test_a_refused_action_records_nothing(as_role, acme):
    as_role(Role.SENDER).post(reverse("campaign_pause", args=[acme.campaign.pk]))  # a draft
    assert not AuditEvent.objects.exists()
