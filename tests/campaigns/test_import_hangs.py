"""An import never hangs (#13): its helper processes shed the worker's signal handlers and are
killed with a bound, a helper that dies or stalls fails the import plainly with the recipients
as they were, Cancel works while the import waits on a helper, and an import a dead worker
left running is failed by the periodic reaper."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.apps.worker import install_worker_term_handler
from celery.worker import state
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from campaigns.models import ImportStatus, RecipientImport
from campaigns.recipients import imports
from core import children, phones

NUMBERS = [f"+7701{n:07d}" for n in range(3_000)]  # above the Normaliser's pool threshold
BIG_BATCH = [f"+7701{n:07d}" for n in range(50_000)]
BIG = "phone\n" + "".join(f"+7702{n:07d}\n" for n in range(25_000))  # three batches


def helper_pids() -> set[int]:
    """The live children of this process."""
    found = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def within(seconds: float, action) -> float:
    """Runs ``action`` and fails unless it returns within ``seconds`` (an alarm interrupts
    it); returns how long it took."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        action()
        return time.monotonic() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def celery_sigterm_handler():
    """Celery's warm-shutdown SIGTERM handler, as a worker's main process has it: outside
    the main process it only sets a flag, so a forked child that keeps it ignores SIGTERM."""
    previous, should_stop = signal.getsignal(signal.SIGTERM), state.should_stop
    install_worker_term_handler(None)
    yield
    signal.signal(signal.SIGTERM, previous)
    state.should_stop = should_stop


def test_validation_children_die_of_sigterm_despite_the_workers_handler(celery_sigterm_handler):
    with phones.Normaliser("KZ", processes=2) as normaliser:
        normaliser.normalise_many(NUMBERS)
        pids = normaliser._pool.pids
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_closing_mid_batch_is_bounded_despite_the_workers_handler(celery_sigterm_handler):
    # The hang of #13: children busy with a batch when the import ended, told to stop with a
    # SIGTERM that Celery's handler swallowed, and joined forever.
    normaliser = phones.Normaliser("KZ", processes=2).__enter__()
    batches = normaliser.verdicts([BIG_BATCH, BIG_BATCH[::-1]])
    next(batches)  # the second batch is being validated now
    pids = normaliser._pool.pids
    assert within(5, normaliser.close) < 1
    assert not helper_pids() & set(pids)  # killed and reaped, no zombie left


def test_closing_is_bounded_for_a_frozen_child():
    normaliser = phones.Normaliser("KZ", processes=2).__enter__()
    os.kill(normaliser._pool.pids[0], signal.SIGSTOP)  # no signal but SIGKILL moves it
    assert within(5, normaliser.close) < 1
    assert helper_pids() == set()


def test_a_dead_child_is_reported_not_waited_for():
    with phones.Normaliser("KZ", processes=2) as normaliser:
        os.kill(normaliser._pool.pids[1], signal.SIGKILL)
        with pytest.raises(children.ChildLost, match=r"ended unexpectedly \(signal 9\)"):
            within(10, lambda: normaliser.normalise_many(NUMBERS))


def test_a_stalled_child_is_reported_after_the_bound():
    with phones.Normaliser("KZ", processes=2, stall_seconds=2) as normaliser:
        os.kill(normaliser._pool.pids[0], signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(children.ChildLost, match="gave no answer for 2 seconds"):
            within(10, lambda: normaliser.normalise_many(NUMBERS))
        assert 2 <= time.monotonic() - started < 4


def _validate_in_a_daemon(out) -> None:
    with phones.Normaliser("KZ", processes=2) as normaliser:
        normaliser.normalise_many(NUMBERS)
        out.put(len(normaliser._pool.pids) if normaliser._pool is not None else 1)


def test_a_daemonic_worker_validates_on_every_core():
    # Celery's prefork children are daemonic, and multiprocessing would refuse them a pool.
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    worker = context.Process(target=_validate_in_a_daemon, args=(out,), daemon=True)
    worker.start()
    assert out.get(timeout=60) == 2
    worker.join(timeout=60)


# --- the import -----------------------------------------------------------------------------


@pytest.fixture
def campaign(acme):
    first = upload(acme.campaign, "phone\n+77011234567\n+77017654321\n")
    imports.confirm(first, "add")
    imports.run(first.pk)
    return acme.campaign


def upload(campaign, text: str = BIG) -> RecipientImport:
    return imports.create(campaign, None, upload=SimpleUploadedFile("people.csv", text.encode()))


def recipients(campaign) -> list[str]:
    return list(campaign.messages.order_by("phone").values_list("phone", flat=True))


def during_the_import(monkeypatch, act) -> None:
    """Calls ``act(imp)`` after the import's first batch, as the user or the machine would
    while it runs."""
    report_progress = imports._Progress.__call__

    def progress(self, tally):
        if tally.done == imports.FIRST_BATCH:
            act(self.imp)
        report_progress(self, tally)

    monkeypatch.setattr(imports._Progress, "__call__", progress)


def elsewhere(action) -> None:
    """Runs ``action`` as another process would: on PostgreSQL through a connection of its
    own, outside the transaction the import holds (on SQLite the import holds none while it
    reads, and the test database is not shared with other threads)."""
    if connection.vendor != "postgresql":
        return action()

    def run():
        try:
            action()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def run_replacing(campaign, seconds: float) -> tuple[RecipientImport, float]:
    imp = upload(campaign)
    imports.confirm(imp, "replace")
    took = within(seconds, lambda: imports.run(imp.pk))
    imp.refresh_from_db()
    return imp, took


def test_a_child_killed_mid_import_fails_it_plainly_and_changes_nothing(campaign, monkeypatch):
    before = recipients(campaign)
    during_the_import(monkeypatch, lambda imp: os.kill(max(helper_pids()), signal.SIGKILL))

    imp, _ = run_replacing(campaign, 30)

    assert imp.status == ImportStatus.FAILED
    assert imp.error.startswith(
        "Checking the numbers stopped: a helper process ended unexpectedly (signal 9). "
        "Nothing was changed"
    )
    assert recipients(campaign) == before
    assert helper_pids() == set()
    monkeypatch.undo()
    imp, _ = run_replacing(campaign, 60)  # and the next import runs
    assert (imp.status, imp.accepted) == (ImportStatus.DONE, 25_000)


def test_a_stalled_child_fails_the_import_after_the_bound(campaign, monkeypatch, settings):
    settings.CRIER_IMPORT_STALL_SECONDS = 2
    before = recipients(campaign)
    during_the_import(monkeypatch, lambda imp: os.kill(max(helper_pids()), signal.SIGSTOP))

    imp, took = run_replacing(campaign, 30)

    assert imp.status == ImportStatus.FAILED
    assert 2 <= took < 6
    assert "a helper process gave no answer for 2 seconds (still running)" in imp.error
    assert recipients(campaign) == before
    assert helper_pids() == set()


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_an_import_waiting_on_a_stalled_child_within_seconds(campaign, monkeypatch):
    before = recipients(campaign)
    during_the_import(monkeypatch, lambda imp: os.kill(max(helper_pids()), signal.SIGSTOP))
    check = imports._Progress.check

    def user_presses_cancel(progress):  # while the import waits for the stalled child
        elsewhere(lambda: imports.cancel(progress.imp))
        check(progress)

    monkeypatch.setattr(imports._Progress, "check", user_presses_cancel)

    imp, took = run_replacing(campaign, 30)

    assert imp.status == ImportStatus.CANCELLED
    assert took < 5  # the stall bound is a minute
    assert recipients(campaign) == before
    assert helper_pids() == set()


# --- the reaper -----------------------------------------------------------------------------


def running(campaign, silent_for: timedelta | None, **fields) -> RecipientImport:
    imp = upload(campaign)
    now = timezone.now()
    RecipientImport.objects.filter(pk=imp.pk).update(
        status=ImportStatus.RUNNING,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - silent_for if silent_for is not None else None,
        **fields,
    )
    return imp


def status(imp) -> tuple[str, str]:
    imp.refresh_from_db()
    return imp.status, imp.error


def test_the_reaper_fails_imports_a_dead_worker_left_running(campaign):
    dead = running(campaign, timedelta(minutes=3))
    alive = running(campaign, timedelta(seconds=5))
    before_heartbeats = running(campaign, None)

    assert imports.fail_abandoned() == 2

    assert status(dead) == (ImportStatus.FAILED, imports.ABANDONED)
    assert status(before_heartbeats) == (ImportStatus.FAILED, imports.ABANDONED)
    assert status(alive) == (ImportStatus.RUNNING, "")
    assert imports.fail_abandoned() == 0


def test_the_reaper_runs_from_beat():
    schedule = settings.CELERY_BEAT_SCHEDULE["fail-abandoned-imports"]
    assert schedule["task"] == "campaigns.tasks.fail_abandoned_imports"
    assert schedule["schedule"] <= 60


def test_cancel_of_an_import_a_dead_worker_left_is_immediate(campaign):
    dead = running(campaign, timedelta(minutes=3))
    imports.cancel(dead)
    assert status(dead)[0] == ImportStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_an_import_failed_by_the_reaper_meanwhile_stores_nothing(campaign, monkeypatch):
    before = recipients(campaign)

    def reaper(imp):  # after a pause long enough for it to give up on the import
        RecipientImport.objects.filter(pk=imp.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        imports.fail_abandoned()

    during_the_import(monkeypatch, lambda imp: elsewhere(lambda: reaper(imp)))
    # The worker was alive after all: no more signs of life reach the row (as if they were
    # lost), and the import runs on to its end.
    monkeypatch.setattr(imports._Progress, "_write", lambda self, values: None)
    imp, _ = run_replacing(campaign, 60)

    assert (imp.status, imp.error) == (ImportStatus.FAILED, imports.ABANDONED)
    assert recipients(campaign) == before
