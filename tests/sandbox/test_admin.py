"""Every sandbox model is in the admin; fault knobs are editable, the ledger is not."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.sandbox import accounts
from providers.sandbox.models import Charge, SandboxAccount

pytestmark = pytest.mark.django_db
MODELS = ["sandboxaccount", "sendername", "sandboxcampaign", "sandboxmessage", "charge"]


@pytest.fixture
def staff(admin_client, bsg_account):
    return admin_client


@pytest.mark.parametrize("model", MODELS)
def test_changelist_opens(staff, model):
    assert staff.get(reverse(f"admin:sandbox_{model}_changelist")).status_code == 200


def test_fault_knobs_are_editable(staff, bsg_account):
    page = staff.get(reverse("admin:sandbox_sandboxaccount_change", args=[bsg_account.pk]))
    knobs = ("rate_limit_every_n", "error_burst", "slow_seconds", "slow_accept_seconds", "hang")
    for knob in (*knobs, "malformed_json"):
        assert f'name="{knob}"' in page.content.decode()
    assert 'name="crash_after_accept"' in page.content.decode()


def test_revoke_tokens_action_logs_clients_out(staff, bsg_account):
    token = accounts.issue_token(bsg_account)
    staff.post(
        reverse("admin:sandbox_sandboxaccount_changelist"),
        {"action": "revoke_tokens", "_selected_action": [bsg_account.pk]},
    )
    assert accounts.account_for_token("bsg", token) is None


def test_ledger_is_read_only(staff, client, bsg_account):
    token = accounts.issue_token(bsg_account)
    body = {
        "channels": ["sms"],
        "recipients": {"phones": [{"number": "380661231231", "reference_id": "adm1"}]},
        "sms": {"sender": "Crier", "text": "test"},
    }
    client.post(
        "/sandbox/bsg/api/campaigns/send",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    charge = Charge.objects.get(reference="adm1")
    page = staff.get(reverse("admin:sandbox_charge_change", args=[charge.pk]))
    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()
    assert staff.get(reverse("admin:sandbox_charge_add")).status_code == 403
    assert SandboxAccount.objects.get(pk=bsg_account.pk).charges.count() == 1
