"""The Audit log page: admins and owners read their workspace's trail, newest first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.log import record
from audit.models import Action, AuditEvent
from audit.views import EVENTS_PER_PAGE
from workspaces.models import Role


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_admins_and_owners_see_the_log_newest_first(as_role, acme, role):
    record(acme.workspace, acme.user(Role.ADMIN), Action.MEMBER_ADDED, target="member first")
    record(acme.workspace, acme.user(Role.OWNER), Action.CAMPAIGN_LAUNCHED, target="member second")
    response = as_role(role).get(reverse("audit_log"))
    assert response.status_code == 200
    text = response.text
    assert text.index("member second") < text.index("member first")
    assert "Campaign launched" in text


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_senders_and_viewers_may_not_read_it(as_role, role):
    assert as_role(role).get(reverse("audit_log")).status_code == 403


def test_the_link_is_shown_to_admins_only(as_role):
    url = reverse("audit_log")
    assert f'href="{url}"' in as_role(Role.ADMIN).get(reverse("overview")).text
    assert f'href="{url}"' not in as_role(Role.SENDER).get(reverse("overview")).text


def test_another_workspaces_events_are_invisible(as_role, acme, globex):
    record(globex.workspace, globex.user(Role.OWNER), Action.MEMBER_REMOVED, target="member spy")
    assert "member spy" not in as_role(Role.OWNER).get(reverse("audit_log")).text


def test_filter_by_action(as_role, acme):
    record(acme.workspace, None, Action.MEMBER_ADDED, target="member added-one")
    record(acme.workspace, None, Action.CAMPAIGN_STOPPED, target="campaign stopped-one")
    client = as_role(Role.ADMIN)
    text = client.get(reverse("audit_log"), {"action": "campaign_stopped"}).text
    assert "campaign stopped-one" in text
    assert "member added-one" not in text
    # The HTMX request gets only the table; an unknown action means no filter.
    partial = client.get(
        reverse("audit_log"), {"action": "bogus"}, headers={"HX-Request": "true"}
    ).text
    assert "<html" not in partial
    assert "campaign stopped-one" in partial
    assert "member added-one" in partial


def test_pages_keep_the_filter(as_role, acme):
    AuditEvent.objects.bulk_create(
        AuditEvent(workspace=acme.workspace, action=Action.MEMBER_ADDED, target=f"member n{i}")
        for i in range(EVENTS_PER_PAGE + 5)
    )
    client = as_role(Role.ADMIN)
    first = client.get(reverse("audit_log"), {"action": "member_added"})
    assert first.context["page"].paginator.num_pages == 2
    assert "?page=2&amp;action=member_added" in first.text
    second = client.get(reverse("audit_log"), {"action": "member_added", "page": 2})
    assert len(second.context["page"].object_list) == 5


def test_the_django_admin_shows_events_read_only(admin_client, acme):
    event = record(acme.workspace, None, Action.CREDENTIALS_CHANGED, target="account X")
    changelist = reverse("admin:audit_auditevent_changelist")
    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(changelist, {"q": "acme"}).status_code == 200
    change = admin_client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.text
    assert admin_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
