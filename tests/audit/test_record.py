"""The audit API others call: ``audit.log.record``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from audit.log import record
from audit.models import Action, AuditEvent
from workspaces.models import Role


def test_record_keeps_who_what_and_details(acme):
    olivia = acme.user(Role.OWNER)
    event = record(
        acme.workspace,
        olivia,
        Action.CAMPAIGN_LAUNCHED,
        target="campaign Spring sale",
        campaign_id=7,
        cost=Decimal("12.50"),
    )
    event.refresh_from_db()
    assert (event.workspace, event.actor, event.actor_name) == (acme.workspace, olivia, "olivia")
    assert event.action == "campaign_launched"
    assert event.target == "campaign Spring sale"
    assert event.details == {"campaign_id": 7, "cost": "12.50"}
    assert event.created_at is not None


@pytest.mark.parametrize("action", [a for a in Action.values if a.startswith("campaign_")])
def test_every_campaign_action_is_accepted_as_a_plain_string(acme, action):
    record(acme.workspace, None, action, target="campaign X")
    assert AuditEvent.objects.get().action == action


def test_an_action_by_crier_itself_has_no_actor(acme):
    for nobody in [None, AnonymousUser()]:
        event = record(acme.workspace, nobody, Action.CAMPAIGN_STOPPED)
        assert event.actor is None
        assert event.actor_name == ""
    assert "Crier" in str(event)


def test_an_unknown_action_fails_loudly(acme):
    with pytest.raises(ValueError, match="Unknown audit action"):
        record(acme.workspace, None, "campaign_exploded")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("name", ["password", "api_key", "secret", "access_token", "credentials"])
def test_a_detail_named_like_a_secret_is_refused(acme, name):
    with pytest.raises(ValueError, match="never hold secrets"):
        record(acme.workspace, None, Action.CREDENTIALS_CHANGED, **{name: "x"})
    assert not AuditEvent.objects.exists()


def test_the_user_may_be_deleted_and_the_trail_stays(acme):
    sam = acme.user(Role.SENDER)
    event = record(acme.workspace, sam, Action.CAMPAIGN_DELETED, target="campaign Old")
    sam.delete()
    event.refresh_from_db()
    assert event.actor is None
    assert event.actor_name == "sam"
