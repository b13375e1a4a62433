"""Webhook URLs go through the guard of provider URLs (core.hosts): refused when saved if they
point inward, and refused again as the connection opens, whatever was saved or the DNS says."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from tests.security.test_ssrf import INWARD, Listener
from webhooks import delivery, events
from webhooks.models import Delivery, Endpoint, EventType

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_sample_webhook")]


@pytest.fixture
def listener():
    listening = Listener()
    yield listening
    listening.close()


def saved_anyway(acme, url: str) -> Endpoint:
    """An endpoint written past the form (an old row, the admin, a changed rule)."""
    return Endpoint.objects.create(
        workspace=acme.workspace, url=url, event_types=[EventType.CAMPAIGN_PAUSED]
    )


@pytest.mark.parametrize("url", INWARD)
def test_the_form_refuses_every_inward_address(url):
    with pytest.raises(ValidationError, match=r"local or private|https"):
        delivery.check_url(url)


def test_a_loopback_receiver_is_never_reached_unless_the_operator_lists_it(
    acme, listener, settings
):
    settings.CRIER_WEBHOOK_HOSTS = []
    for url in [f"https://127.0.0.1:{listener.port}/", f"http://127.0.0.1:{listener.port}/"]:
        saved_anyway(acme, url)
    events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {})

    delivery.run()

    assert listener.received == []
    errors = set(Delivery.objects.values_list("error", flat=True))
    assert errors == {
        "Could not connect: the server refused or could not be reached, or the address is "
        "not a public https one."
    }


def test_a_name_resolving_to_a_private_address_is_refused_without_saying_which(
    acme, listener, monkeypatch, caplog
):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    caplog.set_level("INFO", logger="webhooks.delivery")
    saved_anyway(acme, "https://hooks.partner.example/crier")
    events.record(acme.workspace.pk, EventType.CAMPAIGN_PAUSED, {})

    delivery.run()

    failed = Delivery.objects.get()
    assert failed.status_code is None and failed.error.startswith("Could not connect")
    assert "10.0.0.7" not in failed.error  # the admin does not learn the inside of the network
    assert "10.0.0.7" in caplog.text  # the operator does


def test_a_host_the_operator_lists_may_be_private_and_plain_http(settings):
    settings.CRIER_WEBHOOK_HOSTS = ["relay.internal:8080"]
    delivery.check_url("http://relay.internal:8080/hooks")
    with pytest.raises(ValidationError, match="https"):
        delivery.check_url("http://relay.internal:8081/hooks")
