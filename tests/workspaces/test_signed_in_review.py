"""Review of the MemberBackend switch (r20p): sessions opened before it stay signed in."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from workspaces import twofactor_views
from workspaces.models import Role

pytestmark = pytest.mark.django_db

# The backend every session opened before this change names (login() stores its path).
OLD_BACKEND = "django.contrib.auth.backends.ModelBackend"


def test_a_session_opened_before_the_backend_changed_stays_signed_in(client, acme):
    """Every signed-in user's session names OLD_BACKEND; django.contrib.auth.get_user treats a
    path no longer in AUTHENTICATION_BACKENDS as signed out: the deploy logs everybody out."""
    client.force_login(acme.user(Role.VIEWER), backend=OLD_BACKEND)

    response = client.get(reverse("overview"))

    assert response.status_code == 200


def test_a_two_factor_login_pending_across_the_change_completes(client, acme):
    """A login waiting for its code keeps the backend authenticate() named (OLD_BACKEND before
    the change); finishing it with that path stores a session nobody can use."""
    user = acme.user(Role.VIEWER)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    session = client.session
    session[twofactor_views.PENDING_KEY] = {
        "user": user.pk, "backend": OLD_BACKEND, "next": "", "since": time.time(), "tries": 0,
    }  # fmt: skip
    session.save()

    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    response = client.post(reverse("login_code"), {"code": f"{code:0{device.digits}d}"})
    assert response.status_code == 302  # the code was taken

    assert client.get(reverse("overview")).status_code == 200
