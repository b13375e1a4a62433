"""Signed-in responses are never cached, sessions end when idle, and one person cannot create
workspaces without end (#15)."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        lambda acme: reverse("overview"),
        lambda acme: reverse("campaign_detail", args=[acme.campaign.pk]),
        lambda acme: reverse("campaign_export_csv", args=[acme.campaign.pk]),
        lambda acme: reverse("campaign_export_xlsx", args=[acme.campaign.pk]),
        lambda acme: reverse("account_detail", args=[acme.account.pk]),
    ],
)
def test_signed_in_pages_and_exports_are_not_stored(as_role, acme, url):
    response = as_role(Role.VIEWER).get(url(acme))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_session_ends_after_the_idle_time_and_use_moves_the_end(as_role, settings):
    settings.SESSION_COOKIE_AGE = 600
    client = as_role(Role.VIEWER)
    client.get(reverse("overview"))
    session = Session.objects.get()
    assert abs((session.expire_date - timezone.now()).total_seconds() - 600) < 5

    # Two minutes later, the user is back: the end moves to ten minutes from then.
    stored = client.session
    stored["seen_at"] = int(time.time()) - 120
    stored.save()
    Session.objects.update(expire_date=timezone.now() + timezone.timedelta(seconds=480))
    client.get(reverse("overview"))
    assert abs((Session.objects.get().expire_date - timezone.now()).total_seconds() - 600) < 5

    # Idle past the end: signed out.
    Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    response = client.get(reverse("overview"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_polling_does_not_write_the_session_every_time(as_role):
    client = as_role(Role.VIEWER)
    client.get(reverse("overview"))
    first = Session.objects.get().expire_date
    client.get(reverse("overview"))
    assert Session.objects.get().expire_date == first


def test_one_person_may_create_only_so_many_workspaces(client, acme, settings):
    settings.CRIER_MAX_WORKSPACES_PER_USER = 2
    owner = acme.user(Role.VIEWER)  # owns nothing yet
    client.force_login(owner)
    data = {"default_country": "KZ", "time_zone": "Asia/Almaty", "currency": "KZT"}
    for n in range(2):
        response = client.post(reverse("workspace_create"), {"name": f"Mine {n}", **data})
        assert response.status_code in (200, 302)
    refused = client.post(reverse("workspace_create"), {"name": "One too many", **data})

    assert "the most one person may create here (2)" in refused.content.decode()
    assert not Workspace.objects.filter(name="One too many").exists()
    assert Membership.objects.filter(user=owner, role=Role.OWNER).count() == 2
