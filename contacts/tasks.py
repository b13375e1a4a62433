"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from contacts import importing


@shared_task
def run_import(import_id: int) -> dict:
    return importing.run(import_id)


@shared_task
def fail_abandoned_imports() -> dict:
    """Periodic (every 30 s): fail the contact imports a dead worker left running."""
    return {"failed": importing.fail_abandoned()}
