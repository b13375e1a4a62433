"""Two-factor login (workspaces.twofactor): an authenticator app and recovery codes, the code
step of logging in, and a workspace owner's requirement of it for the members."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.conftest import PASSWORD
from workspaces import twofactor
from workspaces.models import Role
from workspaces.twofactor_views import PENDING_KEY, PENDING_TRIES


def code(device: TOTPDevice, ahead: int = 0) -> str:
    """What the app shows now (``ahead`` steps later: a code is accepted once)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, drift=ahead):06d}"


def wrong_code(device: TOTPDevice) -> str:
    """A code the device refuses: none of those it accepts now (one step either side)."""
    accepted = {code(device, ahead) for ahead in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def with_app(user) -> tuple[TOTPDevice, list[str]]:
    """Two-factor login set up for ``user``: the app and its recovery codes."""
    device = twofactor.unconfirmed_authenticator(user)
    codes = twofactor.confirm(device, code(device))
    return device, codes


def password_step(client: Client, username: str, next_url: str = ""):
    data = {"username": username, "password": PASSWORD, "next": next_url}
    return client.post(reverse("login"), data, REMOTE_ADDR="203.0.113.7")


def code_step(client: Client, value: str):
    return client.post(reverse("login_code"), {"code": value})


def at_code_step(acme) -> tuple[Client, TOTPDevice, list[str]]:
    """Olivia, with two-factor login on, past the password step."""
    device, codes = with_app(acme.user(Role.OWNER))
    client = Client()
    password_step(client, "olivia")
    return client, device, codes


def signed_in(client: Client) -> bool:
    return client.get(reverse("overview")).status_code == 200


# The login


def test_a_user_without_an_app_logs_in_with_the_password_alone(acme):
    client = Client()
    assert password_step(client, "olivia").url == reverse("overview")
    assert signed_in(client)


def test_the_password_alone_does_not_log_in_a_user_with_an_app(acme):
    with_app(acme.user(Role.OWNER))
    client = Client()
    assert password_step(client, "olivia").url == reverse("login_code")
    assert not signed_in(client)


def test_the_code_from_the_app_completes_the_login(acme):
    client, device, _ = at_code_step(acme)
    response = code_step(client, code(device, ahead=1))
    assert response.url == reverse("overview")
    assert signed_in(client)
    assert client.session["otp_device_id"] == device.persistent_id


def test_a_code_typed_with_a_space_is_accepted(acme):
    client, device, _ = at_code_step(acme)
    value = code(device, ahead=1)
    assert code_step(client, f"{value[:3]} {value[3:]}").status_code == 302


def test_a_wrong_code_is_refused_and_says_what_to_enter(acme):
    client, device, _ = at_code_step(acme)
    response = code_step(client, wrong_code(device))
    assert response.status_code == 200
    assert "That code is not right" in response.text
    assert 'id="id_code"' in response.text
    assert not signed_in(client)


def test_an_empty_code_is_asked_for(acme):
    client, _, _ = at_code_step(acme)
    assert "Enter the code your authenticator app shows" in code_step(client, "").text


def test_wrong_codes_are_slowed_down(acme, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # a minute after one wrong code, however slow the test
    client, device, _ = at_code_step(acme)
    code_step(client, wrong_code(device))
    response = code_step(client, code(device, ahead=1))
    assert "Too many wrong codes: wait" in response.text
    assert not signed_in(client)


def test_too_many_wrong_codes_ask_for_the_password_again(acme):
    client, _, _ = at_code_step(acme)
    for _ in range(PENDING_TRIES):
        response = code_step(client, "not-a-code")
    assert response.url == reverse("login")
    assert code_step(client, "whatever").url == reverse("login")


def test_a_recovery_code_logs_in_once(acme):
    client, _, codes = at_code_step(acme)
    response = code_step(client, codes[0].upper())
    assert response.url == reverse("overview")
    assert "You used a recovery code; 9 left" in client.get(reverse("overview")).text
    again = Client()
    password_step(again, "olivia")
    assert "That code is not right" in code_step(again, codes[0]).text


def test_the_code_step_needs_the_password_first(acme):
    response = code_step(Client(), "123456")
    assert response.url == reverse("login")


def test_the_code_step_expires(acme):
    client, device, _ = at_code_step(acme)
    session = client.session
    session[PENDING_KEY]["since"] -= 301
    session.save()
    assert code_step(client, code(device, ahead=1)).url == reverse("login")
    assert not signed_in(client)


def test_the_page_asked_for_is_kept_through_the_code_step(acme):
    device, _ = with_app(acme.user(Role.OWNER))
    client = Client()
    password_step(client, "olivia", next_url=reverse("members"))
    assert code_step(client, code(device, ahead=1)).url == reverse("members")


def test_a_next_address_elsewhere_is_ignored(acme):
    device, _ = with_app(acme.user(Role.OWNER))
    client = Client()
    password_step(client, "olivia", next_url="https://evil.example/")
    assert code_step(client, code(device, ahead=1)).url == reverse("overview")


# Setting it up


def test_setup_shows_a_qr_code_and_the_key_without_inline_styles(as_role, acme):
    response = as_role(Role.SENDER).get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=acme.user(Role.SENDER))
    assert not device.confirmed
    svg = re.search(r"<svg.*?</svg>", response.text, re.S).group()
    assert "<path" in svg and "style" not in svg
    assert twofactor.manual_key(device) in response.text
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", twofactor.manual_key(device))


def test_setup_keeps_the_key_when_the_page_is_reloaded(as_role, acme):
    client = as_role(Role.SENDER)
    first = client.get(reverse("two_factor_setup")).text
    second = client.get(reverse("two_factor_setup")).text
    key = twofactor.manual_key(TOTPDevice.objects.get(user=acme.user(Role.SENDER)))
    assert key in first and key in second


def test_the_first_code_turns_it_on_and_shows_ten_recovery_codes_once(as_role, acme):
    client = as_role(Role.SENDER)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=acme.user(Role.SENDER))
    response = client.post(reverse("two_factor_setup"), {"code": code(device)}, follow=True)
    codes = re.findall(r'<li class="col mb-2">(\w+)</li>', response.text)
    assert len(codes) == len(set(codes)) == 10
    assert twofactor.is_enabled(acme.user(Role.SENDER))
    assert client.get(reverse("two_factor_codes")).url == reverse("two_factor")
    assert codes[0] not in client.get(reverse("two_factor")).text


def test_a_wrong_first_code_leaves_it_off(as_role, acme):
    client = as_role(Role.SENDER)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=acme.user(Role.SENDER))
    response = client.post(reverse("two_factor_setup"), {"code": wrong_code(device)})
    assert not twofactor.is_enabled(acme.user(Role.SENDER))
    assert "That is not the code the app shows for Crier now" in response.text
    assert password_step(Client(), "sam").url == reverse("overview")


def test_a_quick_second_try_at_setup_is_told_to_wait(as_role, acme, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    client = as_role(Role.SENDER)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=acme.user(Role.SENDER))
    client.post(reverse("two_factor_setup"), {"code": wrong_code(device)})
    response = client.post(reverse("two_factor_setup"), {"code": code(device)})
    assert "Too many wrong codes: wait" in response.text
    assert not twofactor.is_enabled(acme.user(Role.SENDER))


def test_a_first_code_that_is_not_six_digits_says_so(as_role):
    response = as_role(Role.SENDER).post(reverse("two_factor_setup"), {"code": "12ab"})
    assert response.status_code == 200
    assert "The code has six digits" in response.text


def test_the_two_factor_page_says_whether_it_is_on(as_role, acme):
    client = as_role(Role.SENDER)
    assert 'data-testid="two-factor-off"' in client.get(reverse("two_factor")).text
    with_app(acme.user(Role.SENDER))
    page = client.get(reverse("two_factor")).text
    assert 'data-testid="two-factor-on"' in page
    assert "Recovery codes left: <strong>10</strong>" in page


# Changing it


def test_new_recovery_codes_need_the_password_and_a_code(as_role, acme):
    device, old = with_app(acme.user(Role.SENDER))
    client = as_role(Role.SENDER)
    data = {"recovery-password": PASSWORD, "recovery-code": code(device, ahead=1)}
    response = client.post(reverse("two_factor_recovery"), data, follow=True)
    new = re.findall(r'<li class="col mb-2">(\w+)</li>', response.text)
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(twofactor.CodeRefused):
        twofactor.verify(acme.user(Role.SENDER), old[1])


def test_turning_it_off_needs_the_password_and_a_code(as_role, acme):
    device, _ = with_app(acme.user(Role.SENDER))
    client = as_role(Role.SENDER)
    refused = client.post(
        reverse("two_factor_disable"), {"disable-password": PASSWORD, "disable-code": "x"}
    )
    assert refused.status_code == 400
    assert "That code is not right" in refused.text
    assert twofactor.is_enabled(acme.user(Role.SENDER))
    data = {"disable-password": PASSWORD, "disable-code": code(device, ahead=1)}
    assert client.post(reverse("two_factor_disable"), data).url == reverse("two_factor")
    assert not twofactor.is_enabled(acme.user(Role.SENDER))
    assert password_step(Client(), "sam").url == reverse("overview")


def test_a_wrong_password_does_not_use_up_a_recovery_code(as_role, acme):
    _, codes = with_app(acme.user(Role.SENDER))
    data = {"disable-password": "not it", "disable-code": codes[0]}
    response = as_role(Role.SENDER).post(reverse("two_factor_disable"), data)
    assert "That is not your password" in response.text
    assert twofactor.recovery_codes_left(acme.user(Role.SENDER)) == 10


# A workspace that requires it


def require(client: Client, on: bool = True):
    data = {"require_two_factor": "on"} if on else {}
    return client.post(reverse("workspace_two_factor"), data)


def test_only_an_owner_may_require_it(as_role, acme):
    with_app(acme.user(Role.ADMIN))
    assert require(as_role(Role.ADMIN)).status_code == 403
    acme.workspace.refresh_from_db()
    assert not acme.workspace.require_two_factor
    assert "Require two-factor login" not in as_role(Role.ADMIN).get("/workspace/settings/").text


def test_an_owner_sets_it_up_before_requiring_it(as_role, acme):
    client = as_role(Role.OWNER)
    response = require(client)
    assert "Set up two-factor login for yourself first" in client.get(response.url).text
    acme.workspace.refresh_from_db()
    assert not acme.workspace.require_two_factor


def test_requiring_it_is_saved_and_audited(client, acme):
    device, _ = with_app(acme.user(Role.OWNER))
    password_step(client, "olivia")
    code_step(client, code(device, ahead=1))
    assert 'name="require_two_factor"' in client.get(reverse("workspace_settings")).text
    require(client)
    acme.workspace.refresh_from_db()
    assert acme.workspace.require_two_factor
    event = AuditEvent.objects.get(workspace=acme.workspace)
    assert event.details == {"require_two_factor": {"old": False, "new": True}}
    require(client, on=False)
    acme.workspace.refresh_from_db()
    assert not acme.workspace.require_two_factor


def test_a_member_without_an_app_is_sent_to_set_one_up(as_role, acme):
    acme.workspace.require_two_factor = True
    acme.workspace.save()
    client = as_role(Role.SENDER)
    assert client.get(reverse("campaign_list")).url == reverse("two_factor_setup")
    assert client.get(reverse("two_factor_setup")).status_code == 200
    htmx = client.get(reverse("campaign_list"), HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == reverse("two_factor_setup")


def test_a_member_who_logged_in_without_a_code_logs_in_again(as_role, acme):
    acme.workspace.require_two_factor = True
    acme.workspace.save()
    with_app(acme.user(Role.SENDER))
    client = as_role(Role.SENDER)  # a session opened before the app was set up
    assert client.get(reverse("campaign_list")).url == reverse("login")
    assert not signed_in(client)


def test_a_member_who_logged_in_with_a_code_works_as_usual(client, acme):
    acme.workspace.require_two_factor = True
    acme.workspace.save()
    device, _ = with_app(acme.user(Role.SENDER))
    password_step(client, "sam")
    code_step(client, code(device, ahead=1))
    assert client.get(reverse("campaign_list")).status_code == 200


def test_other_workspaces_do_not_ask(client, acme, globex):
    acme.workspace.require_two_factor = True
    acme.workspace.save()
    client.force_login(globex.user(Role.OWNER))
    assert client.get(reverse("campaign_list")).status_code == 200
