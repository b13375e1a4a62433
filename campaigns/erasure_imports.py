"""What an erasure (campaigns.contact_history.erase) does to the workspace's imports, which
held the number as it was given (review r23).

A finished import's source (the uploaded file, the pasted text, the preview's rows) is read by
nothing once the rows are in the contacts or the messages, so an erasure forgets the sources
of every finished import of the workspace, the book's and its campaigns': their numbers could
be written in any format, and reading each source to find one is no cheaper than dropping it.
The rejected-rows reports are kept, for their counts and reasons: a row whose phone cell reads
as the erased number gets the stand-in and loses its other cells. An import still waiting for
its mapping, or running, keeps its source: it is the user's instruction to add those rows.
"""

from __future__ import annotations

import unicodedata

from django.db.models import Q

from campaigns.models import RecipientImport
from contacts.models import ContactImport
from core import phones
from core.imports import FINISHED
from core.rejections import redact


def forget(workspace, phone: str, stand_in: str) -> int:
    """Forgets the finished imports' sources and redacts ``phone`` from their reports;
    returns the report rows redacted."""
    tail = phone[-7:]  # each spelling of the number ends with these digits

    def is_it(cell: str) -> bool:
        # Any script's decimal digits, as phonenumbers reads them (Arabic-Indic ones too).
        digits = "".join(str(unicodedata.decimal(c)) for c in cell if c.isdecimal())
        if tail not in digits:
            return False
        read = phones.normalise(cell, workspace.default_country)
        return isinstance(read, phones.Normalised) and read.e164 == phone

    redacted = 0
    imports = (
        (ContactImport, Q(workspace=workspace)),
        (RecipientImport, Q(campaign__workspace=workspace)),
    )
    for model, theirs in imports:
        finished = model.objects.filter(theirs, status__in=FINISHED)
        for imp in finished.exclude(file="").only("pk", "file").iterator():
            imp.file.delete(save=False)
        finished.exclude(file="", pasted_text="", preview=[]).update(
            file="", pasted_text="", preview=[]
        )
        reported = finished.exclude(rejections_file="").only("pk", "rejections_file")
        for imp in reported.iterator():
            redacted += redact(imp.rejections_file.path, is_it, stand_in)
    return redacted
