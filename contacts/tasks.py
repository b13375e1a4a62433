"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from contacts import importing, search_indexes


@shared_task
def run_import(import_id: int) -> dict:
    return importing.run(import_id)


@shared_task
def fail_abandoned_imports() -> dict:
    """Periodic (every 30 s): fail the contact imports a dead worker left running."""
    return {"failed": importing.fail_abandoned()}


@shared_task
def build_search_indexes(workspace_id: int) -> dict:
    """After a big import into an empty book: its workspace's own search indexes."""
    return {"workspace": workspace_id, "built": search_indexes.build(workspace_id)}


@shared_task
def check_search_indexes() -> dict:
    """Periodic (every 5 minutes): bulk-loaded books' own search indexes whose build was lost
    are queued again, and a deleted workspace's are dropped."""
    return search_indexes.check()
