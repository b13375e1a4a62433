"""Review of 920aaee's renamed backends (r20f): a session read with the new backend's name is
still checked as Django checks one (its password hash), and no other path is let in."""

from __future__ import annotations

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.models import Session
from django.urls import reverse

from workspaces.models import Role

pytestmark = pytest.mark.django_db

OLD_BACKEND = "django.contrib.auth.backends.ModelBackend"


def test_an_old_session_is_signed_out_when_the_password_changes(client, acme):
    user = acme.user(Role.VIEWER)
    client.force_login(user, backend=OLD_BACKEND)
    assert client.get(reverse("overview")).status_code == 200
    user.set_password("another password 81")
    user.save()

    response = client.get(reverse("overview"))

    assert response.status_code == 302


@pytest.mark.parametrize("path", ["django.contrib.auth.backends.RemoteUserBackend", "x.Backend"])
def test_a_session_naming_an_unlisted_backend_is_signed_out(client, acme, path):
    client.force_login(acme.user(Role.VIEWER), backend=path)

    response = client.get(reverse("overview"))

    assert response.status_code == 302


def test_reading_an_old_session_does_not_write_it(client, acme):
    """load() renames in the data it returns; the row is written only when something else
    changes the session (then with the new name)."""
    client.force_login(acme.user(Role.VIEWER), backend=OLD_BACKEND)
    key = client.cookies["sessionid"].value
    before = Session.objects.get(session_key=key).session_data

    assert client.get(reverse("overview")).status_code == 200

    row = Session.objects.get(session_key=key)
    assert row.session_data == before or row.get_decoded()[BACKEND_SESSION_KEY] != OLD_BACKEND
