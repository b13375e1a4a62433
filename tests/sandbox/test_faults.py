"""Every fault knob, seen from a client: through the test client and over real HTTP."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from django.test import override_settings

from providers.sandbox import accounts, clock
from providers.sandbox.models import SandboxAccount

pytestmark = pytest.mark.django_db
BASE = "/sandbox/bsg/api"


def body(reference="f1"):
    return {
        "channels": ["sms"],
        "recipients": {"phones": [{"number": "380661231231", "reference_id": reference}]},
        "sms": {"sender": "Crier", "text": "test"},
    }


@pytest.fixture
def api(client, bsg_account):
    token = accounts.issue_token(bsg_account)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def knobs(account: SandboxAccount, **values):
    SandboxAccount.objects.filter(pk=account.pk).update(**values)


def send(api, reference="f1"):
    return api.post(f"{BASE}/campaigns/send", body(reference), content_type="application/json")


def test_every_nth_request_is_429_with_retry_after(api, bsg_account):
    knobs(bsg_account, rate_limit_every_n=3, retry_after=12)
    responses = [api.get(f"{BASE}/accounts/balance") for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429]
    assert responses[2]["Retry-After"] == "12"
    assert responses[2].json() == {"message": "Too Many Attempts."}
    assert "Retry-After" not in responses[3]


def test_rate_limited_send_does_nothing(api, bsg_account):
    knobs(bsg_account, rate_limit_every_n=1)
    assert send(api).status_code == 429
    assert accounts.charges("f1") == 0


def test_error_burst_answers_503_then_recovers(api, bsg_account):
    knobs(bsg_account, error_burst=2)
    assert send(api).status_code == 503
    assert send(api).status_code == 503
    assert accounts.charges("f1") == 0
    assert send(api).status_code == 200
    assert accounts.charges("f1") == 1
    bsg_account.refresh_from_db()
    assert bsg_account.error_burst == 0


def test_slow_answers_late(api, bsg_account):
    knobs(bsg_account, slow_seconds=0.3)
    started = time.monotonic()
    assert api.get(f"{BASE}/accounts/balance").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_json_after_doing_the_work(api, bsg_account):
    knobs(bsg_account, malformed_json=True)
    response = send(api)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert accounts.charges("f1") == 1


def test_crash_after_accept_records_and_charges_then_500(api, bsg_account):
    knobs(bsg_account, crash_after_accept=True)
    response = send(api)
    assert response.status_code == 500
    assert accounts.charges("f1") == 1
    found = api.get(f"{BASE}/messages", {"filter[reference_id]": "f1"}).json()["data"]
    assert len(found) == 1


def test_crash_after_accept_leaves_reads_alone(api, bsg_account):
    knobs(bsg_account, crash_after_accept=True)
    assert api.get(f"{BASE}/accounts/balance").status_code == 200


def test_faults_do_not_garble_a_refusal(api, bsg_account):
    send(api)
    knobs(bsg_account, malformed_json=True, crash_after_accept=True)
    response = send(api)  # duplicate reference: 422, nothing done
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "recipients.phones.0.reference_id"


@override_settings(SANDBOX_HANG_SECONDS=1.5)
def test_hang_makes_the_read_timeout_fire_after_the_work(live_server, bsg_account):
    knobs(bsg_account, hang=True)
    token = accounts.issue_token(bsg_account)
    http = httpx.Client(base_url=f"{live_server.url}{BASE}", timeout=httpx.Timeout(0.5))
    with http, pytest.raises(httpx.ReadTimeout):
        http.post("/campaigns/send", json=body(), headers={"Authorization": f"Bearer {token}"})
    time.sleep(1.2)  # let the server finish its sleep before the database goes away
    assert accounts.charges("f1") == 1


def test_real_http_login_and_send(live_server, bsg_account):
    with httpx.Client(base_url=f"{live_server.url}{BASE}", timeout=5) as http:
        token = http.post("/auth/login", json={"api_key": bsg_account.api_key}).json()["bearer"]
        response = http.post(
            "/campaigns/send", json=body("live1"), headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200
    assert accounts.charges("live1") == 1


def test_faults_apply_to_mobizon(client, mobizon_account):
    knobs(mobizon_account, error_burst=1)
    url = f"/sandbox/mobizon/service/User/GetOwnBalance?apiKey={mobizon_account.api_key}"
    assert client.get(url).status_code == 503
    assert client.get(url).json()["code"] == 0


def test_smsdrop_rate_limit_is_429(client, smsdrop_account):
    knobs(smsdrop_account, rate_limit_every_n=1, retry_after=3)
    token = accounts.issue_token(smsdrop_account)
    response = client.get("/sandbox/smsdrop/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 429
    assert response["Retry-After"] == "3"


def test_conpeek_crash_after_accept(client, conpeek_account):
    credentials = accounts.provision("conpeek", name=conpeek_account.name)
    knobs(conpeek_account, crash_after_accept=True)
    response = client.post(
        f"/sandbox/conpeek/voice_sms_campaign/{credentials['voice_campaign_id']}/request_list",
        {"type": "none", "data": [{"contact_number": "48123123123", "custom": {"reference": "x"}}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=credentials["api_key"],
    )
    assert response.status_code == 500
    assert accounts.charges("x") == 1


@pytest.mark.django_db(transaction=True)
def test_slow_accept_works_on_a_billing_request_before_anything_of_it_is_visible(api, bsg_account):
    """A lookup made while the provider is still at work finds nothing; then it bills once,
    and a second request with the same reference is refused as taken."""
    knobs(bsg_account, slow_accept_seconds=0.6)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(send(api, "slow1").status_code))
    sender.start()
    time.sleep(0.2)
    looked_up = api.get(f"{BASE}/messages", {"filter[reference_id]": "slow1"}).json()
    sender.join()

    assert looked_up["data"] == []
    assert answers == [200]
    assert accounts.charges("slow1") == 1
    knobs(bsg_account, slow_accept_seconds=0)
    again = send(api, "slow1")
    assert again.status_code == 422
    assert "already been taken" in again.content.decode()
    assert accounts.charges("slow1") == 1


def test_a_reference_is_taken_once_even_by_requests_that_race(bsg_account):
    """Uniqueness is the database's (a constraint), not a check before the insert."""
    from django.db import IntegrityError, transaction

    from providers.sandbox.models import SandboxCampaign, SandboxMessage

    campaign = SandboxCampaign.objects.create(account=bsg_account, created_at=clock.now())
    fields = {"campaign": campaign, "account": bsg_account, "phone": "1", "created_at": clock.now()}
    SandboxMessage.objects.create(reference="r1", client_reference="r1", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        SandboxMessage.objects.create(reference="r1", client_reference="r1", **fields)
