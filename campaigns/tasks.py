"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

import multiprocessing
from contextlib import contextmanager

from celery import shared_task

from campaigns import imports


@contextmanager
def _children_allowed():
    """Lets the import validate numbers on every core from inside a prefork worker.

    Celery's prefork children are daemonic, and multiprocessing refuses to start a pool from a
    daemonic process (so that no grandchild outlives a dying worker). The import's pool is
    short-lived and closed in a ``finally`` by the Normaliser, so the rule is lifted for the
    length of the task only; without it a million-row import runs on one core.
    """
    config = multiprocessing.current_process()._config
    daemon = config.get("daemon")
    config["daemon"] = False
    try:
        yield
    finally:
        if daemon is not None:
            config["daemon"] = daemon


@shared_task
def run_import(import_id: int) -> dict:
    with _children_allowed():
        return imports.run(import_id)
