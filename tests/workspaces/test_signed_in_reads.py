"""What every signed-in request reads: its session, then the user with their memberships and
workspaces in one statement (workspaces.tenancy.MemberBackend), and nothing a signed-out,
deactivated, re-passworded or removed user could still get through."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def live_part(acme) -> str:
    return reverse("campaign_progress", args=[acme.campaign.pk])


def shown(response) -> bool:
    """The live part came back (a draft's stops the polling: 286)."""
    return response.status_code in (200, 286) and b'data-testid="progress"' in response.content


def test_the_user_and_their_memberships_are_one_read(as_role, acme):
    client = as_role(Role.VIEWER)
    Membership.objects.create(
        user=acme.user(Role.VIEWER), workspace=Workspace.objects.create(name="Zeta"), role="owner"
    )

    with CaptureQueriesContext(connection) as queries:
        response = client.get(live_part(acme), headers=HTMX)

    assert shown(response)
    user_reads = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    membership_reads = [q["sql"] for q in queries if '"dashboard_membership"' in q["sql"]]
    assert user_reads == [] and len(membership_reads) == 1
    assert '"auth_user"' in membership_reads[0] and '"dashboard_workspace"' in membership_reads[0]
    menu = client.get(reverse("overview")).content.decode()
    assert menu.index('Acme <span class="badge') < menu.index('Zeta <span class="badge')


def test_a_member_of_no_workspace_is_read_alone_and_still_signed_in(client, acme):
    user = acme.user(Role.VIEWER)
    Membership.objects.filter(user=user).delete()
    client.force_login(user)

    response = client.get(reverse("overview"))

    assert response.status_code == 302 and response.url == reverse("workspace_create")


def test_a_signed_out_session_gets_no_live_part(as_role, acme):
    client = as_role(Role.VIEWER)
    assert shown(client.get(live_part(acme), headers=HTMX))
    stale = client.cookies.copy()

    client.logout()
    client.cookies = stale  # the old session's cookie, sent again

    response = client.get(live_part(acme), headers=HTMX)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_deactivated_user_gets_no_live_part(as_role, acme):
    client = as_role(Role.VIEWER)
    assert shown(client.get(live_part(acme), headers=HTMX))

    type(acme.user(Role.VIEWER)).objects.filter(username="vera").update(is_active=False)

    response = client.get(live_part(acme), headers=HTMX)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_changed_password_ends_the_other_sessions(as_role, acme):
    client = as_role(Role.VIEWER)
    assert shown(client.get(live_part(acme), headers=HTMX))

    user = acme.user(Role.VIEWER)
    user.set_password("a whole new secret 123")
    user.save()

    response = client.get(live_part(acme), headers=HTMX)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_removed_member_gets_no_live_part(as_role, acme):
    client = as_role(Role.VIEWER)
    assert shown(client.get(live_part(acme), headers=HTMX))

    Membership.objects.filter(user=acme.user(Role.VIEWER)).delete()

    assert client.get(live_part(acme), headers=HTMX).status_code in (302, 404)
    assert not shown(client.get(live_part(acme), headers=HTMX))


def test_a_lowered_role_counts_at_once(as_role, acme):
    client = as_role(Role.SENDER)
    clone = reverse("campaign_clone", args=[acme.campaign.pk])
    assert client.post(clone).status_code == 302

    Membership.objects.filter(user=acme.user(Role.SENDER)).update(role=Role.VIEWER)

    assert client.post(clone).status_code == 403
