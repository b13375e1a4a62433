"""r23 review, the campaign side: one NUL in one cell past the reader's sample failed a whole
recipients import on PostgreSQL (the fields' JSON cannot hold U+0000), losing every other row."""

from __future__ import annotations

from campaigns.models import Message
from core.imports import ImportStatus
from core.tables.reader import _SAMPLE
from tests.campaigns.test_imports import run, upload


def test_a_nul_in_one_cell_does_not_fail_the_whole_recipients_import(acme):
    rows = "".join(f"+7701{n:07d},Ann {n}\n" for n in range(5_000))
    text = f"phone,name\n{rows}+77019999999,Bo\x00b\n"
    assert len(text) > _SAMPLE  # past the sniffed sample

    imp = run(upload(acme.campaign, text))

    assert imp.status == ImportStatus.DONE, imp.error
    assert Message.objects.filter(campaign=acme.campaign).count() == 5_001
    assert Message.objects.get(campaign=acme.campaign, phone="+77019999999").fields == {
        "name": "Bob"
    }
