"""Recipient imports through a real prefork Celery worker never hang (#13): thirty in a row all
finish, and a validation child killed mid-import fails that import cleanly, with the
recipients as they were, while the next one runs.

The test process stores the uploads (as the web process does) and sends run_import to the
workers' broker (as Confirm does); the worker does everything else.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import ImportStatus, RecipientImport
from campaigns.recipients import imports
from campaigns.tasks import run_import
from crier.celery import app
from tests.campaigns.corpus import CONTACTS, Contact, xlsx_bytes
from tests.reliability.conftest import BROKER
from tests.reliability.test_sending import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FINISHED = {ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED}


@pytest.fixture
def worker(processes, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "var" / "media"  # the workers' (CRIER_VAR_DIR)
    processes.worker()
    return processes


def numbers_csv(rows: int, prefix: str = "7702") -> bytes:
    return ("phone;name\n" + "".join(f"+{prefix}{n:07d};N{n}\n" for n in range(rows))).encode()


def workbook(rows: int) -> bytes:
    """The issue's file: an XLSX of ``rows`` rows with the phones as numeric cells."""
    contacts = [c for c in CONTACTS if c.e164] * (rows // 90 + 1)
    numeric = [Contact(f"7701{n:07d}", c.name, c.city, None) for n, c in enumerate(contacts)]
    return xlsx_bytes(numeric[:rows])


def start(campaign, data: bytes, name: str, mode: str = "replace") -> RecipientImport:
    imp = imports.create(campaign, None, upload=SimpleUploadedFile(name, data))
    RecipientImport.objects.filter(pk=imp.pk).update(status=ImportStatus.QUEUED, mode=mode)
    with app.connection_for_write(BROKER) as connection:
        run_import.apply_async((imp.pk,), connection=connection)
    return imp


def finish(imp: RecipientImport, seconds: float, processes) -> RecipientImport:
    wait_until(
        lambda: RecipientImport.objects.get(pk=imp.pk).status in FINISHED,
        seconds,
        f"import {imp.pk} to finish",
        processes,
    )
    imp.refresh_from_db()
    return imp


def validating(imp: RecipientImport, processes) -> RecipientImport:
    """Waits for the worker to have checked the import's first batch."""
    wait_until(
        lambda: RecipientImport.objects.get(pk=imp.pk).rows_done > 0,
        30,
        "the import to be validating",
        processes,
    )
    return imp


def validation_children(worker_pid: int) -> list[int]:
    """The worker's grandchildren: what its prefork children forked (the import's helpers)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    prefork = {pid for pid, parent in parents.items() if parent == worker_pid}
    return [pid for pid, parent in parents.items() if parent in prefork]


def test_thirty_imports_in_a_row_none_hangs(acme, worker):
    files = [
        (workbook(510), "issue.xlsx", 510),  # below the pool threshold
        (workbook(3_000), "contacts.xlsx", 3_000),  # validated by forked children
        (numbers_csv(12_000), "people.csv", 12_000),
    ]
    started = time.monotonic()
    for n in range(30):
        data, name, rows = files[n % len(files)]
        imp = finish(start(acme.campaign, data, name), 30, worker)
        assert (imp.status, imp.accepted) == (ImportStatus.DONE, rows), imp.error
    took = time.monotonic() - started
    assert acme.campaign.messages.count() == 12_000
    assert took < 90, took
    print(f"30 imports in {took:.1f} s")


def test_a_validation_child_killed_mid_import_fails_it_and_the_next_runs(acme, worker):
    first = finish(start(acme.campaign, numbers_csv(5, "7701"), "before.csv"), 30, worker)
    assert first.status == ImportStatus.DONE
    before = sorted(acme.campaign.messages.values_list("phone", flat=True))
    worker_pid = worker.running["worker"].pid

    imp = validating(start(acme.campaign, numbers_csv(200_000), "big.csv"), worker)
    victims = validation_children(worker_pid)
    assert victims, "no validation child found"
    os.kill(victims[0], signal.SIGKILL)
    killed = time.monotonic()
    imp = finish(imp, 15, worker)
    print(f"failed {time.monotonic() - killed:.1f} s after the kill")

    assert imp.status == ImportStatus.FAILED
    assert "a helper process ended unexpectedly (signal 9)" in imp.error
    assert sorted(acme.campaign.messages.values_list("phone", flat=True)) == before
    assert validation_children(worker_pid) == []  # none left behind
    after = finish(start(acme.campaign, workbook(510), "after.xlsx"), 30, worker)
    assert (after.status, after.accepted) == (ImportStatus.DONE, 510)


def test_cancel_mid_import_takes_seconds(acme, worker):
    imp = validating(start(acme.campaign, numbers_csv(300_000), "huge.csv"), worker)
    # Validation frozen: only the once-a-second look at Cancel can end the wait now.
    for pid in validation_children(worker.running["worker"].pid):
        os.kill(pid, signal.SIGSTOP)
    pressed = time.monotonic()
    imports.cancel(imp)
    imp = finish(imp, 10, worker)
    took = time.monotonic() - pressed
    print(f"cancelled {took:.1f} s after Cancel")
    assert imp.status == ImportStatus.CANCELLED
    assert took < 5
    assert acme.campaign.messages.count() == 0
