"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

from celery import shared_task

from campaigns import imports


@shared_task
def run_import(import_id: int) -> dict:
    return imports.run(import_id)
