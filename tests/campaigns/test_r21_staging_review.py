"""r21 review: StagingWriter's thread shares the sqlite3 connection, and sqlite3 reads a
statement's row count (sqlite3_changes) from the connection after the statement ran: a
staging INSERT that ends in between is counted as the main thread's. _store's claim
(RecipientImport...update(status=DONE)) runs while the thread may still stage (finish()
joins it only afterwards), so a cancelled or abandoned-and-failed import can read
"claimed" and commit its messages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from campaigns.models import ImportStatus, RecipientImport
from campaigns.recipients import bulk, imports

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite staging")


@sqlite_only
def test_the_claim_counts_no_row_of_a_cancelled_import_while_the_writer_stages(acme, monkeypatch):
    imp = imports.create(
        acme.campaign, None, upload=SimpleUploadedFile("p.csv", b"phone\n+77010000001\n")
    )
    RecipientImport.objects.filter(pk=imp.pk).update(
        status=ImportStatus.RUNNING, cancel_requested=True
    )
    # Single-row statements, as the end of every staging run makes (up to 99 of them).
    monkeypatch.setattr(bulk.StagingWriter, "_ROWS", 1)
    staged = []
    stage = bulk._stage_lines

    def counted(raw, table, lines, per_statement):
        stage(raw, table, lines, per_statement)
        staged.append(len(lines))

    monkeypatch.setattr(bulk, "_stage_lines", counted)
    lines = [f"r{n:07d}\t+7701{n:07d}\tKZ\tmobile\t{n}\t{{}}\n" for n in range(30_000)]
    wrong, claims = [], 0
    with bulk.StagingWriter(acme.campaign.pk, False) as writer:
        for _ in range(3):
            writer.write(lines)
        while sum(staged) < 3 * len(lines):
            # _store's claim, as it runs before writer.finish(): the import was cancelled,
            # so it must claim nothing.
            claimed = RecipientImport.objects.filter(
                pk=imp.pk, status=ImportStatus.RUNNING, cancel_requested=False
            ).update(status=ImportStatus.DONE)
            claims += 1
            if claimed:
                wrong.append(claimed)
    assert claims > 100
    assert wrong == [], f"{len(wrong)} of {claims} claims counted a staged row"
