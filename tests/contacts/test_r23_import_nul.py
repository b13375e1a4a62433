"""r23 review: one NUL character in one cell, past the part of the file the reader samples,
fails a whole contact import on PostgreSQL ("Crier hit an unexpected error; nothing was
changed"); the same file imports on SQLite (where this test passes).

core.tables.reader refuses a file with a NUL only in its first bytes (the sample it sniffs);
contacts.importing._Checker._record copies a name or a text field's cell as it is, and
contacts.upsert writes it: PostgreSQL's text and jsonb cannot hold U+0000, so the import's one
transaction raises DataError and every other row of the file (here 5,000) is lost with it. The
rows' report never names the row. The row should be rejected (or the NUL dropped), the rest
imported.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts import importing
from contacts.models import Contact, ImportStatus, ListAction, UpsertMode
from core.tables.reader import _SAMPLE


@pytest.mark.parametrize("column", ["name", "city"])
def test_a_nul_in_one_cell_does_not_fail_the_whole_import(acme, column):
    acme.workspace.contacts.filter(opted_out_at__isnull=True).delete()
    acme.workspace.contact_fields.all().delete()
    rows = "".join(f"+7701{n:07d},Ann {n}\n" for n in range(5_000))
    text = f"phone,{column}\n{rows}+77019999999,Bo\x00b\n"
    assert len(text) > _SAMPLE  # past the sniffed sample
    imp = importing.create(
        acme.workspace, None, upload=SimpleUploadedFile("people.csv", text.encode())
    )
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE, None, "")

    importing.run(imp.pk)

    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE, imp.error
    book = Contact.objects.filter(workspace=acme.workspace, opted_out_at__isnull=True)
    assert book.filter(phone__startswith="+7701000").count() == 5_000
    stored = list(book.values_list("name", "fields"))
    assert not [c for c in stored if "\x00" in str(c)], "a NUL was stored"
