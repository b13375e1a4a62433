"""r23 review: an erasure (campaigns.contact_history.erase) leaves the erased number readable
outside the messages.

``erase`` replaces the number in the workspace's messages and deletes (or strips) the contact,
but touches nothing else that holds it:

- webhooks.Event rows: every ``message.status_changed`` event told before the erasure keeps
  ``"phone": "+7..."`` in its ``data`` (campaigns.status_events.COLUMNS); the endpoint's
  delivery log keeps the event until webhooks.delivery.prune, and "Replay" on that log
  (webhooks.delivery.replay) POSTs the erased number to the endpoint again after the erasure.
- contacts.ContactImport rows of the book's imports: ``pasted_text`` (the whole source),
  ``preview`` (its first rows) and the rejected-rows report (``rejections_file``) keep the
  number for as long as the import is kept.
"""

from __future__ import annotations

import json
import os

from campaigns import contact_history, status_events
from campaigns.models import Message
from contacts import importing
from contacts.models import ContactImport, ListAction, UpsertMode
from core.statuses import MessageStatus
from tests.campaigns.history_kit import DELIVERED, campaign_with
from tests.campaigns.test_imports import run, upload
from webhooks.models import Endpoint, Event, EventType


def test_an_erasure_leaves_the_number_in_webhook_events_told_before_it(acme):
    Endpoint.objects.create(
        workspace=acme.workspace,
        url="https://hooks.example.com/crier",
        event_types=[EventType.MESSAGE_STATUS],
    )
    phone = acme.contact.phone
    campaign = campaign_with(acme, "Spring", {phone: MessageStatus.SENT})
    delivered = Message.objects.filter(campaign=campaign, phone=phone)
    status_events.update(acme.workspace.pk, delivered, status=DELIVERED)  # told to the endpoint
    assert phone in json.dumps(list(Event.objects.values_list("data", flat=True)))

    contact_history.erase(acme.contact, acme.user("admin"))

    kept = json.dumps(list(Event.objects.values_list("data", flat=True)))
    assert phone not in kept, "a past webhook event still holds the erased number"


def test_an_erasure_leaves_the_number_in_the_books_imports_and_their_rejected_rows(acme):
    phone = acme.contact.phone
    # A second row for the same number with a bad language is rejected into the report.
    text = f"phone,name,language\n{phone},Ann Lee,en\n{phone},Ann Lee,x" + "y" * 300 + "\n"
    imp = importing.create(acme.workspace, None, text=text)
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE, None, "")
    importing.run(imp.pk)
    imp.refresh_from_db()

    contact_history.erase(acme.contact, acme.user("admin"))

    imp = ContactImport.objects.get(pk=imp.pk)
    held = {
        "pasted text": imp.pasted_text,
        "preview": json.dumps(imp.preview),
        "rejected rows": (
            imp.rejections_file.open("rb").read().decode("utf-8-sig") if imp.rejections_file else ""
        ),
    }
    assert not [where for where, text in held.items() if phone.lstrip("+") in text], held


def test_an_erasure_forgets_a_campaign_import_s_file_and_redacts_its_report(acme, tmp_path):
    """The campaign side: the uploaded file is deleted and the report's row of the number,
    written in a national format with its name beside it, holds the stand-in only."""
    phone = acme.contact.phone  # +77011110001
    national = f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    other = "+77015550000"
    arabic = "٨ " + national[2:].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    csv_text = f"phone,name\n{phone},Ann Lee\n{national},Ann Lee again\n{other},Bo\n{other},Bo\n"
    csv_text += f"{arabic},Ann Lee in Arabic-Indic digits\n"
    imp = run(upload(acme.campaign, csv_text))
    assert imp.rejected == 3 and imp.file
    source = imp.file.path

    erasure = contact_history.erase(acme.contact, acme.user("admin"))

    imp.refresh_from_db()
    assert not imp.file and not imp.preview
    assert not os.path.exists(source), "the uploaded file is still on the disk"
    report = imp.rejections_file.open("rb").read().decode("utf-8-sig")
    assert phone[2:5] not in report.replace(other, "") and "Ann Lee" not in report, report
    assert erasure.stand_in in report and other in report  # the other row is kept whole
