"""Review r22: an Idempotency-Key whose first request died without answering. api.idempotency
claims the key (a row with no answer, committed at once) before the work and writes the
answer in ``finalize_response``; ApiView.handle_exception catches ``Exception`` only. A worker
that dies inside the view (gunicorn's timeout: SIGABRT, whose handler calls sys.exit in the
worker; an OOM kill; a restart) never answers, and its claim stays "in progress": every retry
with the key is refused with 409 "retry in a moment" for the 24 hours keys are kept, and
without the key the client risks the double send the key was for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.models import IdempotentRequest
from api.views import campaigns as views
from tests.api.test_campaigns import _funds  # noqa: F401

HEADERS = {"Idempotency-Key": "create-spring-sale"}


def test_r22_a_key_whose_request_died_is_not_in_progress_for_a_day(api, acme, monkeypatch):
    body = {"name": "Spring", "account": acme.account.pk, "sender": acme.sender.value}
    real = views.apply

    def killed(*args, **kwargs):
        raise SystemExit(1)  # gunicorn's handle_abort on a worker timeout

    monkeypatch.setattr(views, "apply", killed)
    with pytest.raises(SystemExit):
        api.post("/api/v1/campaigns", body, format="json", headers=HEADERS)
    monkeypatch.setattr(views, "apply", real)

    # Ten minutes on: the worker is long gone (gunicorn's default timeout is 30 s).
    claimed = IdempotentRequest.objects.get()
    assert claimed.status_code is None
    IdempotentRequest.objects.update(created_at=claimed.created_at - timedelta(minutes=10))
    retry = api.post("/api/v1/campaigns", body, format="json", headers=HEADERS)
    assert retry.status_code == 201, (retry.status_code, retry.json().get("detail"))
