"""A webhook receiver on loopback that checks every request with the standardwebhooks library,
as a subscriber would, and an endpoint of Acme's pointing at it."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks.models import SUBSCRIBABLE, Endpoint, Event


@pytest.fixture
def no_sample_webhook(acme):
    """Acme starts without the endpoint and delivery every tenant has for the route matrices
    (tests/conftest.py): these tests count what they make."""
    Endpoint.objects.filter(workspace=acme.workspace).delete()
    Event.objects.filter(workspace=acme.workspace).delete()


def receiver_port() -> int:
    """8121 for the first xdist worker (or no xdist), 8122 for the second..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 8121 + int(worker.removeprefix("gw"))


class Receiver:
    """Answers ``answer`` (200 unless a test changes it) to every POST, after checking its
    signature with ``Webhook(secret).verify``; ``stop()`` takes it off the network (a
    connection is then refused) and ``start()`` brings it back on the same port."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks"
        self.secret = ""
        self.answer = 200
        self.requests: list[dict] = []  # every request that reached it: headers, verified
        self.payloads: list[dict] = []  # the verified bodies it answered 2xx to
        self.server = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    payload = None
                receiver.requests.append({"headers": headers, "verified": payload is not None})
                code = receiver.answer if payload is not None else 400
                if 200 <= code < 300:
                    receiver.payloads.append(payload)
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"no")

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of_type(self, type: str) -> list[dict]:
        return [p for p in self.payloads if p["type"] == type]


@pytest.fixture
def receiver(settings):
    receiver = Receiver(receiver_port())
    settings.CRIER_WEBHOOK_HOSTS = [f"127.0.0.1:{receiver.port}"]
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def endpoint(acme, receiver) -> Endpoint:
    """Acme's endpoint at the receiver, subscribed to everything."""
    endpoint = Endpoint.objects.create(
        workspace=acme.workspace,
        url=receiver.url,
        event_types=[value for value, _label in SUBSCRIBABLE],
    )
    receiver.secret = endpoint.secret
    return endpoint
