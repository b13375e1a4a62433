"""Queueing a task by the name it is registered under.

A service queues work that a thin task then does by calling back into services; if the service
imported the tasks module, each would import the other. So services name the task and this
finds it in Celery's registry: every app's tasks module is imported when Django starts (the
AppConfig's ``ready``), and tests/test_layers.py checks every name queued here is registered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(name: str, *args, if_refused: Callable[[], None] | None = None) -> None:
    """Queue the task registered as ``name`` once the current transaction commits (at once
    outside a transaction), so a worker never looks for a row that is not committed yet.

    ``if_refused``: for a nudge that beat would give anyway (waking a sending campaign's
    worker), a broker that cannot take the task is logged and ``if_refused`` called instead
    of raising: the work is committed, and an error now would tell the caller it was not
    (review r22: an API send answered 500, and its retry sent the message twice)."""
    task = current_app.tasks[name]
    if if_refused is None:
        task.delay_on_commit(*args)
        return

    def queue() -> None:
        try:
            task.delay(*args)
        except Exception:
            logger.exception("The broker refused %s%r; beat will hand the work out", name, args)
            if_refused()

    transaction.on_commit(queue)
