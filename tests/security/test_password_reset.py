"""Password reset by e-mail (Django's auth views): a link that works once, and an answer that
reads the same whether or not an account uses the address."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.security.test_two_factor import with_app
from workspaces.models import Role

NEW_PASSWORD = "a brand new passphrase 42"


def ask(email: str, client: Client | None = None):
    return (client or Client()).post(reverse("password_reset"), {"email": email}, follow=True)


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/password/reset/\S+/)", message.body).group(1)


def without_tokens(text: str) -> str:
    """The page with its per-response CSRF tokens blanked out."""
    return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", text)


def log_in(password: str, username: str = "sam"):
    client = Client()
    data = {"username": username, "password": password}
    return client.post(reverse("login"), data, REMOTE_ADDR="203.0.113.7")


def test_the_login_page_links_to_it(db):
    page = Client().get(reverse("login")).text
    assert f'href="{reverse("password_reset")}"' in page
    assert "Forgot your password?" in page


def test_a_known_address_gets_one_email_with_a_link(acme):
    response = ask("sam@example.com")
    assert 'data-testid="reset-sent"' in response.text
    (message,) = mail.outbox
    assert message.to == ["sam@example.com"]
    assert message.subject == "Reset your Crier password"
    assert "Hello sam" in message.body
    assert link_in(message)


def test_the_answer_is_the_same_for_an_unknown_address(acme):
    known = ask("sam@example.com").text
    unknown = ask("nobody@example.com").text
    assert len(mail.outbox) == 1
    assert without_tokens(unknown) == without_tokens(known)


def test_a_malformed_address_names_the_field(db):
    response = Client().post(reverse("password_reset"), {"email": "not an address"})
    assert response.status_code == 200
    assert "Enter a valid email address" in response.text
    assert not mail.outbox


def test_the_link_sets_a_new_password_once(acme):
    ask("sam@example.com")
    link = link_in(mail.outbox[0])
    client = Client()
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.text
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    done = client.post(form.redirect_chain[-1][0], data, follow=True)
    assert "Your password was changed" in done.text
    assert log_in(NEW_PASSWORD).url == reverse("overview")
    assert log_in(PASSWORD).status_code == 200  # the old one no longer works
    again = Client().get(link, follow=True)
    assert 'data-testid="reset-invalid"' in again.text


def test_a_weak_new_password_is_refused_with_the_reason(acme):
    ask("sam@example.com")
    client = Client()
    form = client.get(link_in(mail.outbox[0]), follow=True)
    data = {"new_password1": "12345678", "new_password2": "12345678"}
    response = client.post(form.redirect_chain[-1][0], data)
    assert "This password is too common" in response.text


def test_a_reset_password_still_asks_for_the_code_when_two_factor_is_on(acme):
    with_app(acme.user(Role.SENDER))
    ask("sam@example.com")
    client = Client()
    form = client.get(link_in(mail.outbox[0]), follow=True)
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    client.post(form.redirect_chain[-1][0], data)
    assert log_in(NEW_PASSWORD).url == reverse("login_code")


def test_the_pages_need_no_login(db):
    for name in ("password_reset", "password_reset_done", "password_reset_complete"):
        assert Client().get(reverse(name)).status_code == 200
