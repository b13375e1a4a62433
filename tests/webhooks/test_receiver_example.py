"""The receiver in docs/webhooks.md, run as it is written, verifies what Crier sends and
refuses what it did not."""

from __future__ import annotations

import re
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.webhooks.conftest import receiver_port
from webhooks import delivery, events
from webhooks.models import Delivery, Endpoint, EventType

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_sample_webhook")]

DOCUMENT = Path(settings.BASE_DIR) / "docs" / "webhooks.md"


def example_code() -> str:
    [code] = re.findall(r"```python\n(.*?)```", DOCUMENT.read_text(), flags=re.S)
    return code


@pytest.fixture
def example(acme, settings, monkeypatch):
    """The example's module, serving on a port of ours, with an endpoint of Acme's at it."""
    port = receiver_port() + 4  # beside the tests' own receiver
    settings.CRIER_WEBHOOK_HOSTS = [f"127.0.0.1:{port}"]
    endpoint = Endpoint.objects.create(
        workspace=acme.workspace,
        url=f"http://127.0.0.1:{port}/",
        event_types=[EventType.MESSAGE_STATUS, EventType.CAMPAIGN_PAUSED],
    )
    monkeypatch.setenv("CRIER_WEBHOOK_SECRET", endpoint.secret)
    module = {"__name__": "receiver"}
    exec(compile(example_code(), str(DOCUMENT), "exec"), module)
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), module["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield module, endpoint
    server.shutdown()
    server.server_close()


def test_the_documented_receiver_verifies_and_handles_each_event_once(acme, example, capfd):
    module, endpoint = example
    message = {"id": 7, "reference": "r" * 32, "phone": "+77011234567", "status": "delivered"}
    message |= {"error_code": "", "changed_at": "2026-12-06T20:15:02.114Z"}
    events.record_messages(acme.workspace.pk, 3, [message])
    events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {"campaign": {"id": 3}})

    delivery.run()
    delivery.replay(Delivery.objects.filter(endpoint=endpoint).first(), None)
    delivery.run()

    assert set(Delivery.objects.values_list("status_code", flat=True)) == {204}
    printed = capfd.readouterr().out
    assert "7 +77011234567 delivered 2026-12-06T20:15:02.114Z" in printed
    assert 'campaign.paused {"campaign": {"id": 3}}' in printed
    assert len(module["handled"]) == 2  # the replay was recognised by its webhook-id


def test_the_documented_receiver_refuses_an_unsigned_or_forged_request(example):
    _module, endpoint = example
    forged = {"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
    assert httpx.post(endpoint.url, content=b"{}").status_code == 400
    assert httpx.post(endpoint.url, content=b"{}", headers=forged).status_code == 400
