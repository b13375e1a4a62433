"""A workbook import through the whole pipeline, read by its child process: the import ends
(done, cancelled or refused) with no reading process left behind and this one unharmed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import ImportStatus
from campaigns.recipients import imports
from core.tables.table import ImportRejected
from tests.campaigns import corpus
from tests.campaigns.test_spreadsheet_reader import XLS_ASKING_FOR_4_GIB, children


@pytest.fixture(autouse=True)
def _no_child_left():
    yield
    assert children() == []


def upload(campaign, data: bytes, name: str):
    return imports.create(campaign, None, upload=SimpleUploadedFile(name, data))


def test_a_workbook_import_cancelled_midway_leaves_no_reader_behind(acme, monkeypatch):
    contacts = [
        corpus.Contact(f"+7701{n:07d}", f"Name {n}", "Almaty", f"+7701{n:07d}")
        for n in range(25_000)
    ]
    imp = upload(acme.campaign, corpus.xlsx_bytes(contacts), "people.xlsx")
    imports.confirm(imp, "add")
    report_progress = imports._Progress.__call__

    def cancel_midway(progress, tally):
        if tally.done >= imports.BATCH:  # the user presses Cancel after the first batch
            imports.cancel(progress.imp)
        report_progress(progress, tally)

    monkeypatch.setattr(imports._Progress, "__call__", cancel_midway)
    imports.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.CANCELLED
    assert imp.rows_done < len(contacts)
    assert not acme.campaign.messages.exists()


def test_a_workbook_that_crashes_its_reader_is_refused_at_upload(acme):
    with pytest.raises(ImportRejected, match="XLS workbook"):
        upload(acme.campaign, XLS_ASKING_FOR_4_GIB, "shifted.xls")
    imp = upload(acme.campaign, corpus.xls_bytes(), "contacts.xls")
    assert imports.sheet_names(imp) == ["Contacts"]
