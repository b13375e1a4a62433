"""A newcomer logs in as the demo user and adds a provider account and a sender name."""

from __future__ import annotations

import re

from providers.models import ProviderAccount, SenderName
from tests.browser.conftest import shot


def test_demo_user_adds_an_account_and_a_sender_name(logged_in, demo):
    page = logged_in
    assert page.locator("h1").inner_text() == "Demo workspace"
    shot(page, "overview")

    page.get_by_role("link", name="Provider accounts").click()
    page.get_by_role("link", name="Add provider account").click()
    page.select_option("#id_provider", "mobizon")
    # HTMX swaps in Mobizon's credential fields.
    page.wait_for_selector("#id_cred_domain")
    assert page.locator("#id_cred_api_key").count() == 1
    page.fill("#id_name", "Mobizon Brazil")
    page.fill("#id_cred_api_key", "kz1234567890abcdefghij1234567890abcdWXYZ")
    page.select_option("#id_cred_domain", "mobizon.com.br")
    page.fill("#id_currency", "brl")
    shot(page, "account_add")
    page.get_by_role("button", name="Add account").click()

    page.wait_for_url(re.compile(r".*/accounts/\d+/$"))
    assert "Mobizon Brazil" in page.locator("h1").inner_text()
    assert "•••• WXYZ" in page.content()
    assert "kz1234567890" not in page.content()
    shot(page, "account_detail")
    account = ProviderAccount.objects.get(name="Mobizon Brazil")
    assert account.credentials["domain"] == "mobizon.com.br"
    assert account.currency == "BRL"

    page.get_by_role("link", name="Add").click()
    page.fill("#id_value", "TooLongSenderName")
    page.get_by_role("button", name="Add sender name").click()
    error = page.locator("#id_value_error")
    error.wait_for()
    assert "at most 11 characters" in error.inner_text()
    shot(page, "sender_invalid")

    page.fill("#id_value", "BrasilShop")
    page.get_by_role("button", name="Add sender name").click()
    page.wait_for_url("**/senders/")
    assert page.get_by_role("cell", name="BrasilShop", exact=True).is_visible()
    shot(page, "senders")
    assert SenderName.objects.get(value="BrasilShop").account == account


def test_a_wrong_password_is_refused_without_saying_why(page, demo):
    page.goto(f"{demo.url}/login/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    alert = page.locator(".alert-danger")
    alert.wait_for()
    assert "Please enter a correct username and password" in alert.inner_text()
