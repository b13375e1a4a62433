"""Review r21: StagingWriter's thread shares the sqlite3 connection, and sqlite3 reads a
statement's row count (sqlite3_changes) from the connection after the statement ran, so a
staging INSERT that ends in between is counted as the main thread's. _store's claim
(RecipientImport...update(status=DONE)) ran while the thread could still stage (finish()
joined it only afterwards): a cancelled or abandoned-and-failed import could read "claimed"
and commit its messages. The import now flushes the writer (stops the thread) before the
transaction that ends it."""

from __future__ import annotations

import threading

from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import ImportStatus, RecipientImport
from campaigns.recipients import bulk, imports
from tests.campaigns.test_import_storage import sqlite_only

PHONES = "phone\n" + "".join(f"+7701{n:07d}\n" for n in range(1, 12_001))


def _staging() -> bool:
    return any(thread.name == "crier-stage" for thread in threading.enumerate())


def _upload(campaign, content: str):
    return imports.create(campaign, None, upload=SimpleUploadedFile("p.csv", content.encode()))


@sqlite_only
def test_no_staging_thread_runs_while_the_import_is_claimed(acme, monkeypatch):
    seen = []
    store = imports._store

    def noted(imp, writer, tally, report):
        seen.append(_staging())
        store(imp, writer, tally, report)

    monkeypatch.setattr(imports, "_store", noted)
    imp = _upload(acme.campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert (imp.status, imp.accepted) == (ImportStatus.DONE, 12_000)
    assert seen == [False]


@sqlite_only
def test_an_import_cancelled_while_its_rows_are_staged_stores_none(acme, monkeypatch):
    # Single-row statements, so that staging is still under way when the reading ends.
    monkeypatch.setattr(bulk.StagingWriter, "_ROWS", 1)
    read = imports._read_and_check

    def then_cancelled(imp, *args):
        tally = read(imp, *args)
        RecipientImport.objects.filter(pk=imp.pk).update(cancel_requested=True)
        return tally

    monkeypatch.setattr(imports, "_read_and_check", then_cancelled)
    imp = _upload(acme.campaign, PHONES)
    imports.confirm(imp, "add")
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.CANCELLED
    assert acme.campaign.messages.count() == 0


@sqlite_only
def test_once_flushed_the_claim_reads_its_own_row_count(acme, monkeypatch):
    imp = _upload(acme.campaign, "phone\n+77010000001\n")
    RecipientImport.objects.filter(pk=imp.pk).update(
        status=ImportStatus.RUNNING, cancel_requested=True
    )
    monkeypatch.setattr(bulk.StagingWriter, "_ROWS", 1)
    lines = [f"r{n:07d}\t+7701{n:07d}\tKZ\tmobile\t{n}\t{{}}\n" for n in range(3_000)]
    with bulk.StagingWriter(acme.campaign.pk, False) as writer:
        writer.write(lines)
        writer.flush()
        assert not _staging()
        claimed = [
            RecipientImport.objects.filter(
                pk=imp.pk, status=ImportStatus.RUNNING, cancel_requested=False
            ).update(status=ImportStatus.DONE)
            for _ in range(200)
        ]
    assert set(claimed) == {0}
