"""Thin Celery tasks: one service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from webhooks import delivery


@shared_task
def deliver() -> dict:
    """Queued when an event is recorded or replayed, and run by beat as a safety net: fans
    events out and sends what is due (webhooks.delivery.run)."""
    return delivery.run()


@shared_task
def prune() -> dict:
    """Periodic: old events and their delivery log go (webhooks.delivery.prune)."""
    return {"deleted": delivery.prune()}
