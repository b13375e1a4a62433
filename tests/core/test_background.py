"""core.background.BatchThread: the thread the bulk writers store their batches on."""

from __future__ import annotations

import threading

import pytest

from core.background import BatchThread


def test_batches_are_handled_in_order_then_last():
    seen = []
    worker = BatchThread("t-order", seen.append, last=lambda: seen.append("last"))
    for batch in range(5):
        worker.put(batch)
    worker.finish()
    assert seen == [0, 1, 2, 3, 4, "last"]
    worker.finish()  # stopping twice is harmless
    assert seen[-1] == "last" and seen.count("last") == 1


def test_the_first_error_stops_the_work_and_is_raised_in_the_callers_thread():
    seen = []
    failed = threading.Event()

    def handle(batch):
        if batch == 1:
            failed.set()
            raise ValueError("batch 1")
        seen.append(batch)

    worker = BatchThread("t-error", handle, last=lambda: seen.append("last"))
    worker.put(0)
    worker.put(1)
    failed.wait(5)
    with pytest.raises(ValueError, match="batch 1"):
        for batch in range(2, 100):  # put raises once the thread has failed
            worker.put(batch)
    with pytest.raises(ValueError, match="batch 1"):
        worker.finish()
    assert seen == [0]  # nothing handled after the error, and no ``last``
    assert isinstance(worker.error, ValueError)


def test_a_waiting_batch_can_be_taken_back():
    release = threading.Event()
    seen = []

    def handle(batch):
        release.wait(5)
        seen.append(batch)

    worker = BatchThread("t-drop", handle)
    worker.put("taken by the thread")
    worker.put("waiting")  # the queue holds one; the thread is busy with the first
    worker.drop_waiting()
    release.set()
    worker.finish()
    assert seen == ["taken by the thread"]
