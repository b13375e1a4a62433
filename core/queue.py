"""Queueing a task by the name it is registered under.

A service queues work that a thin task then does by calling back into services; if the service
imported the tasks module, each would import the other. So services name the task and this
finds it in Celery's registry: every app's tasks module is imported when Django starts (the
AppConfig's ``ready``), and tests/test_layers.py checks every name queued here is registered.
"""

from __future__ import annotations

from celery import current_app


def enqueue(name: str, *args) -> None:
    """Queue the task registered as ``name`` once the current transaction commits (at once
    outside a transaction), so a worker never looks for a row that is not committed yet."""
    current_app.tasks[name].delay_on_commit(*args)
