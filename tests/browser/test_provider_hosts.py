"""An account pointed inward is refused on the form, under the field, at desktop and phone
widths (#15)."""

from __future__ import annotations

import pytest

from providers.models import ProviderAccount
from tests.browser.conftest import shot


@pytest.mark.parametrize("width", [1280, 390])
def test_an_inward_base_url_and_tenant_url_are_refused_under_their_fields(logged_in, demo, width):
    page = logged_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{demo.url}/accounts/add/?provider=conpeek")
    page.wait_for_selector("#id_cred_tenant_url")
    page.fill("#id_name", "Inward")
    page.fill("#id_api_base_url", "https://[::ffff:127.0.0.1]:6379/")
    page.fill("#id_cred_api_key", "k" * 24)
    page.fill("#id_cred_tenant_url", "http://169.254.169.254/latest/")
    page.fill("#id_cred_voice_campaign_id", "5b7c389fe8df7b60af688989")
    page.get_by_role("button", name="Add account").click()

    base_error = page.locator("#id_api_base_url_error")
    base_error.wait_for()
    assert "local or private network address" in base_error.inner_text()
    tenant_error = page.locator("#id_cred_tenant_url_error")
    assert "Use an https:// address" in tenant_error.inner_text()
    shot(page, f"provider_hosts_refused_{width}")
    assert not ProviderAccount.objects.filter(name="Inward").exists()
