"""The import task inside a daemonic (Celery prefork) process still uses every core."""

from __future__ import annotations

import multiprocessing
from contextlib import nullcontext

from campaigns import phones
from campaigns.tasks import _children_allowed

NUMBERS = [f"+7701{n:07d}" for n in range(3_000)]  # above the Normaliser's pool threshold


def _pool_size(allow: bool, out) -> None:
    # As the task does: the whole import, Normaliser included, runs inside the context.
    with (
        _children_allowed() if allow else nullcontext(),
        phones.Normaliser("KZ", processes=2) as normaliser,
    ):
        normaliser.normalise_many(NUMBERS)
        out.put(normaliser.processes if normaliser._pool is not None else 1)


def pool_size_in_a_daemon(allow: bool) -> int:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    worker = context.Process(target=_pool_size, args=(allow, out), daemon=True)
    worker.start()
    size = out.get(timeout=60)
    worker.join(timeout=60)
    return size


def test_a_daemonic_worker_gets_a_pool_inside_the_task():
    assert pool_size_in_a_daemon(allow=False) == 1  # what multiprocessing does by default
    assert pool_size_in_a_daemon(allow=True) == 2
