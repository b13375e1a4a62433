"""An admin adds a webhook endpoint from the workspace menu, is refused an inward URL under
the field, sends a test event that a receiver verifies, reads the delivery log and replays,
at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_navigation, shot
from tests.webhooks.conftest import Receiver, receiver_port
from webhooks import delivery
from webhooks.models import Endpoint


@pytest.fixture
def receiver(settings):
    receiver = Receiver(receiver_port() + 6)
    settings.CRIER_WEBHOOK_HOSTS = [f"127.0.0.1:{receiver.port}"]
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize("width", [1280, 390])
def test_add_an_endpoint_send_a_test_event_and_replay_it(logged_in, demo, receiver, width):
    page = logged_in
    page.set_viewport_size({"width": width, "height": 900})
    if width < 1200:  # navbar-expand-xl
        open_navigation(page)
    page.get_by_test_id("workspace-menu").click()
    page.get_by_role("link", name="Webhooks").click()
    page.wait_for_url(f"{demo.url}/webhooks/")
    shot(page, f"webhooks_empty_{width}")
    page.get_by_role("link", name="Add an endpoint").click()

    page.fill("#id_url", "https://10.0.0.5/hooks")
    page.get_by_label("Campaign completed").check()
    page.get_by_role("button", name="Add endpoint").click()
    error = page.locator("#id_url_error")
    error.wait_for()
    assert "local or private network address" in error.inner_text()
    shot(page, f"webhooks_form_refused_{width}")

    page.fill("#id_url", receiver.url)
    page.fill("#id_description", "Our CRM")
    page.get_by_label("Message statuses changed").check()
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_url(re.compile(r"/webhooks/\d+/$"))
    endpoint = Endpoint.objects.get(url=receiver.url)
    receiver.secret = endpoint.secret
    page.get_by_text("Show the secret").click()
    expect(page.get_by_test_id("secret")).to_contain_text(endpoint.secret)

    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_text(re.compile(r"A test event \(evt_\d+\) is on its way"))).to_be_visible()
    delivery.run()  # what the worker does
    page.reload()
    log = page.get_by_test_id("delivery-log")
    expect(log).to_contain_text("Delivered")
    expect(log).to_contain_text("Test event")
    assert [r["verified"] for r in receiver.requests] == [True]

    page.get_by_role("button", name="Replay").first.click()
    expect(page.get_by_text(re.compile(r"Replaying evt_\d+ as delivery"))).to_be_visible()
    delivery.run()
    page.reload()
    expect(page.get_by_test_id("delivery-log").get_by_text("Delivered")).to_have_count(2)
    assert len(receiver.payloads) == 2
    shot(page, f"webhooks_endpoint_{width}")
    page.goto(f"{demo.url}/webhooks/")
    expect(page.get_by_test_id("endpoints-table")).to_contain_text("Our CRM")
    shot(page, f"webhooks_list_{width}")
