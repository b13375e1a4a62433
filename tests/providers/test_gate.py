"""One request at a time to a provider account (providers.gate), in threads as in processes:
a request that starts while another is waiting for a 429 sees the quiet that 429 asked for."""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest
from django.db import connections

from providers import gate
from providers.errors import RateLimited, TemporaryError
from tests.providers.conftest import BSG_KEY

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "https://one-api.bsg.world"


def in_threads(*targets):
    errors = []

    def run(target):
        try:
            target()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(10)
    return errors


def test_two_holders_of_one_account_never_overlap(acme):
    spans = []

    def hold():
        with gate.one_at_a_time(acme.account.pk, wait=5):
            start = time.monotonic()
            time.sleep(0.2)
            spans.append((start, time.monotonic()))

    assert in_threads(hold, hold, hold) == []
    spans.sort()
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_a_holder_that_keeps_the_gate_too_long_is_waited_for_only_so_long(acme):
    def hold():
        with gate.one_at_a_time(acme.account.pk, wait=5):
            time.sleep(1.0)

    def impatient():
        with gate.one_at_a_time(acme.account.pk, wait=0.2):
            pass

    errors = in_threads(hold, impatient)
    assert len(errors) == 1 and isinstance(errors[0], TemporaryError)


def test_a_request_made_while_another_gets_a_429_waits_and_then_keeps_the_quiet(acme, api):
    """The race the gate closes: a poll that passed the quiet check just before a send on the
    same account was refused would reach the provider inside the Retry-After."""
    acme.account.provider = "bsg"
    acme.account.api_base_url = ""
    acme.account.credentials = {"api_key": BSG_KEY}
    acme.account.save()
    api.post(f"{BASE}/api/auth/login").respond(200, json={"bearer": "jwt"})
    seen = []

    def slow_refusal(request):
        seen.append(request.url.path)
        time.sleep(0.3)
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"message": "slow down"})

    api.get(f"{BASE}/api/campaigns").mock(side_effect=slow_refusal)

    def call():
        with acme.account.adapter() as adapter:
            adapter.list_campaigns()

    errors = in_threads(call, call)

    assert seen == ["/api/campaigns"]  # the second caller never reached the provider
    assert len(errors) == 2 and all(isinstance(e, RateLimited) for e in errors)
