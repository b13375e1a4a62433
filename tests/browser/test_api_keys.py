"""An admin creates an API key in the browser, a script sends a single message with it, the
message goes out once, and the campaign list shows the API's campaign; the key is revoked and
stops working; the API reference renders under the CSP."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from campaigns.models import Campaign, Message
from campaigns.sending import engine as sending
from core.statuses import MessageStatus
from providers.models import ProviderAccount
from providers.sandbox.models import Charge
from tests.browser.conftest import snap


def test_create_a_key_send_with_it_and_revoke_it(logged_in, demo):
    page = logged_in
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("workspace-menu").click()
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url(re.compile(r".*/api-keys/$"))
    page.fill("#id_name", "Shop notifications")
    page.check("input[name=scopes][value=send]")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key-value").input_value()
    assert re.fullmatch(r"crier_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", key)
    snap(page, "api_keys_new")
    page.reload()
    expect(page.get_by_test_id("new-key")).to_have_count(0)  # shown once
    expect(page.get_by_test_id("keys-table")).to_contain_text(key.split("_")[1])

    account = ProviderAccount.objects.filter(workspace__name__icontains="demo").first()
    account = account or ProviderAccount.objects.first()
    headers = {"Authorization": f"Bearer {key}"}
    answer = page.request.post(
        f"{demo.url}/api/v1/messages",
        headers=headers,
        data={"account": account.pk, "to": "+77015550199", "sender": "Crier", "text": "Code 4711"},
    )
    assert answer.status == 202, answer.text()
    message_id = answer.json()["id"]
    campaign = Campaign.objects.get(transactional=True)
    for _ in range(20):
        sending.run(campaign.pk, budget=1)
        sending.release(campaign.pk)
        if Message.objects.get(pk=message_id).status != MessageStatus.PENDING:
            break
    message = Message.objects.get(pk=message_id)
    assert message.status != MessageStatus.PENDING, (message.status, message.error_reason)
    assert Charge.objects.filter(phone__endswith="7015550199").count() == 1, list(
        Charge.objects.values("phone")
    )
    status = page.request.get(f"{demo.url}/api/v1/messages/{message_id}", headers=headers)
    assert status.json()["status"] not in ("pending", "submitting")

    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_text(campaign.name)).to_be_visible()

    page.goto(f"{demo.url}/api-keys/")
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("keys-table")).to_contain_text("Revoked")
    refused = page.request.get(f"{demo.url}/api/v1/campaigns", headers=headers)
    assert refused.status == 401
    assert refused.headers["content-type"] == "application/problem+json"
    snap(page, "api_keys_revoked")


def test_the_api_reference_renders(page, demo):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{demo.url}/api/docs/")
    expect(page.get_by_text("Crier API").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e and "script" in e]
    snap(page, "api_docs")
