"""Login throttling (django-axes): repeated failures for one username from one address lock that
pair out, many failures from one address lock the address whatever the usernames, and the
lockout says nothing about whether the account exists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from workspaces.models import Role

LIMIT = settings.AXES_FAILURE_LIMIT
ADDRESS_LIMIT = settings.CRIER_LOGIN_ADDRESS_FAILURE_LIMIT


def attempt(username: str, password: str, address: str = "203.0.113.7", client=None):
    client = client or Client()
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def fail(username: str, times: int, address: str = "203.0.113.7"):
    return [attempt(username, "wrong password", address) for _ in range(times)][-1]


def page_text(response, username: str) -> str:
    """The page with the username and the per-response CSRF token blanked out."""
    text = response.text.replace(username, "USERNAME")
    return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", text)


def test_the_limit_is_a_handful(acme):
    assert 3 <= LIMIT <= 10


def test_failures_below_the_limit_only_say_the_pair_is_wrong(acme):
    response = fail("olivia", LIMIT - 1)
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert attempt("olivia", PASSWORD).status_code == 302


def test_the_limit_locks_the_username_out_even_with_the_right_password(acme):
    locked = fail("olivia", LIMIT)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert "15 minutes" in locked.text
    assert attempt("olivia", PASSWORD).status_code == 429


def test_a_locked_out_user_is_not_logged_in(acme):
    fail("olivia", LIMIT)
    client = Client()
    attempt("olivia", PASSWORD, client=client)
    assert client.get(reverse("overview")).status_code == 302


def test_the_lockout_reads_the_same_for_a_user_who_does_not_exist(acme):
    real = fail("olivia", LIMIT)
    ghost = fail("nobody-by-this-name", LIMIT)
    assert ghost.status_code == real.status_code == 429
    assert page_text(ghost, "nobody-by-this-name") == page_text(real, "olivia")
    assert "olivia" not in real.text


def test_the_failure_page_reads_the_same_for_a_user_who_does_not_exist(acme):
    real = attempt("olivia", "wrong password")
    ghost = attempt("nobody-by-this-name", "wrong password")
    assert page_text(ghost, "nobody-by-this-name") == page_text(real, "olivia")


def test_the_lockout_is_per_username(acme):
    fail("olivia", LIMIT)
    assert attempt("sam", PASSWORD).status_code == 302


def test_the_lockout_is_per_address(acme):
    """Someone guessing olivia's password elsewhere does not lock olivia out of her office."""
    fail("olivia", LIMIT, address="198.51.100.66")
    assert attempt("olivia", PASSWORD, address="203.0.113.7").status_code == 302


def test_the_address_limit_is_larger_than_the_username_limit(acme):
    """Colleagues behind one office address do not lock each other out by a few typos."""
    assert 2 * LIMIT <= ADDRESS_LIMIT <= 50


def test_many_usernames_from_one_address_lock_the_address_out(acme):
    responses = [attempt(f"guess-{n}", "wrong password") for n in range(ADDRESS_LIMIT)]
    assert [r.status_code for r in responses[:-1]] == [200] * (ADDRESS_LIMIT - 1)
    assert responses[-1].status_code == 429
    assert "Too many failed attempts" in responses[-1].text
    assert attempt("olivia", PASSWORD).status_code == 429
    assert attempt("olivia", PASSWORD, address="198.51.100.66").status_code == 302


def test_an_address_below_its_limit_still_lets_everyone_in(acme):
    for n in range(ADDRESS_LIMIT - 1):
        attempt(f"guess-{n}", "wrong password")
    assert attempt("olivia", PASSWORD).status_code == 302


def test_one_users_failures_from_many_addresses_lock_that_username_on_each(acme):
    addresses = [f"198.51.100.{n}" for n in range(1, 4)]
    for address in addresses:
        assert fail("olivia", LIMIT, address=address).status_code == 429
    for address in addresses:
        assert attempt("olivia", PASSWORD, address=address).status_code == 429
    assert attempt("olivia", PASSWORD, address="192.0.2.44").status_code == 302


def test_a_success_clears_earlier_failures(acme):
    fail("olivia", LIMIT - 1)
    assert attempt("olivia", PASSWORD).status_code == 302
    fail("olivia", LIMIT - 1)
    assert attempt("olivia", PASSWORD).status_code == 302


def test_the_attempt_log_keeps_no_password(acme):
    from axes.models import AccessAttempt

    fail("olivia", 2)
    (row,) = AccessAttempt.objects.all()
    assert "wrong password" not in row.post_data + row.get_data
    assert row.failures_since_start == 2


def test_authenticating_outside_a_request_is_refused_loudly(acme):
    """Axes cannot count what it cannot see: code must pass the request (tests use force_login)."""
    from axes.exceptions import AxesBackendRequestParameterRequired

    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(username="olivia", password=PASSWORD)


def test_the_users_own_login_through_the_page_works(acme):
    client = Client()
    response = attempt(acme.user(Role.OWNER).username, PASSWORD, client=client)
    assert response.url == reverse("overview")
    assert client.get(reverse("overview")).status_code == 200


PROXY_SETTINGS = ("AXES_IPWARE_PROXY_COUNT", "IPWARE_STRICT", "AXES_IPWARE_META_PRECEDENCE_ORDER")


def configured_with(tmp_path, **environment) -> dict:
    """The proxy settings crier/settings.py makes of the environment, in a fresh process,
    as a deployment would configure them."""
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {PROXY_SETTINGS}}}))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "CRIER_VAR_DIR": str(tmp_path), **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_trusted_proxy_by_default(tmp_path):
    """Clients that reach Django directly are known by the connecting address alone: an
    X-Forwarded-For they write themselves is never read."""
    configured = configured_with(tmp_path)
    assert configured["AXES_IPWARE_PROXY_COUNT"] is None
    assert configured["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ["REMOTE_ADDR"]


def test_behind_a_trusted_proxy_the_client_address_is_locked_not_the_proxy(
    acme, settings, tmp_path
):
    for name, value in configured_with(tmp_path, CRIER_TRUSTED_PROXIES="1").items():
        setattr(settings, name, tuple(value) if isinstance(value, list) else value)
    proxy = "10.0.0.2"

    def via_proxy(password: str, client_address: str):
        return Client().post(
            reverse("login"),
            {"username": "olivia", "password": password},
            REMOTE_ADDR=proxy,
            # A client may send its own X-Forwarded-For; the proxy appends what it saw.
            HTTP_X_FORWARDED_FOR=f"203.0.113.99, {client_address}",
        )

    for _ in range(LIMIT):
        locked = via_proxy("wrong password", "198.51.100.9")

    assert locked.status_code == 429
    assert via_proxy(PASSWORD, "198.51.100.9").status_code == 429
    assert via_proxy(PASSWORD, "192.0.2.44").status_code == 302  # another client, same proxy
