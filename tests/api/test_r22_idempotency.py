"""Review r22: Idempotency-Key keeping a retry safe.

An Idempotency-Key whose first request died without answering. api.idempotency
claims the key (a row with no answer, committed at once) before the work and writes the
answer in ``finalize_response``; ApiView.handle_exception catches ``Exception`` only. A worker
that dies inside the view (gunicorn's timeout: SIGABRT, whose handler calls sys.exit in the
worker; an OOM kill; a restart) never answers, and its claim stays "in progress": every retry
with the key is refused with 409 "retry in a moment" for the 24 hours keys are kept, and
without the key the client risks the double send the key was for."""

from __future__ import annotations

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

    # The claim went with the work it was part of: the retry needs no wait at all.
    assert not IdempotentRequest.objects.exists()
    retry = api.post("/api/v1/campaigns", body, format="json", headers=HEADERS)
    assert retry.status_code == 201, (retry.status_code, retry.json().get("detail"))


@pytest.mark.django_db(transaction=True)
def test_r22_a_500_after_the_message_was_stored_does_not_let_a_retry_send_it_again(
    api, acme, monkeypatch
):
    """docs/api.md: a 500 means "retry with the same Idempotency-Key", and the key "makes a
    retry safe". transactional.send commits the message, then wakes a worker: ``enqueue``
    outside a transaction publishes to the broker at once, and a broker that is down raises.
    The answer is a 500, api.idempotency.keep lets the key go, and the retry stores a second
    message; beat hands the campaign out from the database, so both are sent."""
    from celery import current_app
    from kombu.exceptions import OperationalError

    from campaigns.models import Message

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    task = current_app.tasks["campaigns.tasks.send_campaign"]
    monkeypatch.setattr(task, "delay", broker_down)  # what delay_on_commit calls
    body = {
        "account": acme.account.pk,
        "to": "+77012223344",
        "sender": acme.sender.value,
        "text": "Your code is 4711",
    }
    headers = {"Idempotency-Key": "order-1001-code"}
    first = api.post("/api/v1/messages", body, format="json", headers=headers)
    # Was a 500 ("Crier failed; retry with the same Idempotency-Key") after the message had
    # committed; now the broker's failure is logged, and beat hands the campaign out.
    assert first.status_code in (202, 500)
    monkeypatch.undo()
    retry = api.post("/api/v1/messages", body, format="json", headers=headers)
    assert retry.status_code in (202, 409), retry.status_code
    assert Message.objects.filter(phone="+77012223344").count() == 1, (
        "one request with one Idempotency-Key stored two messages: both will be sent"
    )
