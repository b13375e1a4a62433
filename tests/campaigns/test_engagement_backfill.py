"""campaigns.engagement.backfill: a contact created after messages went to its number
(a campaign sent to a file, then the file imported into the book) gets the engagement the
roll-up read before the contact existed, whichever way it was created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import engagement
from contacts import book, importing
from contacts.models import Contact, OptOutSource, UpsertMode
from core.statuses import MessageStatus
from crier.celery import app
from tests.campaigns.test_engagement_roll_up import sent_batch

SENT, DELIVERED = timezone.now() - timedelta(days=3), timezone.now() - timedelta(days=2)
NUMBER, OTHER = "+77019870101", "+77019870102"


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def history(acme):
    """A file campaign, rolled up before the book held its numbers: NUMBER delivered, OTHER
    only sent."""
    statuses = {NUMBER: MessageStatus.DELIVERED, OTHER: MessageStatus.SENT}
    sent_batch(acme, statuses, submitted_at=SENT, delivered_at=DELIVERED)
    assert engagement.roll_up()["contacts"] == 0  # nobody to carry it to yet


def dates(workspace, phone: str) -> tuple:
    contact = Contact.objects.get(workspace=workspace, phone=phone)
    return contact.last_sent_at, contact.last_delivered_at


def test_a_contact_made_by_hand_gets_its_numbers_history(
    acme, history, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        Contact.objects.create(workspace=acme.workspace, phone=NUMBER, country="KZ")
    assert dates(acme.workspace, NUMBER) == (SENT, DELIVERED)


def test_an_import_gives_each_new_contact_its_history(
    acme, history, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        imp = importing.create(acme.workspace, None, text=f"phone\n{NUMBER}\n{OTHER}\n")
        importing.confirm(imp, UpsertMode.UPDATE, "none", None, "")
        importing.run(imp.pk)
    assert dates(acme.workspace, NUMBER) == (SENT, DELIVERED)
    assert dates(acme.workspace, OTHER) == (SENT, None)


def test_opting_out_an_unknown_number_keeps_its_history(
    acme, history, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        book.mark_opted_out(acme.workspace, [NUMBER], source=OptOutSource.MANUAL)
    assert dates(acme.workspace, NUMBER) == (SENT, DELIVERED)


def test_another_workspaces_messages_are_not_its_history(acme, globex, history):
    since = timezone.now()
    Contact.objects.create(workspace=globex.workspace, phone=NUMBER, country="KZ")
    assert engagement.backfill(globex.workspace.pk, since) == 0
    assert dates(globex.workspace, NUMBER) == (None, None)


def test_older_contacts_and_later_dates_are_left_as_they_are(acme, history):
    later = timezone.now() - timedelta(hours=1)
    old = Contact.objects.create(workspace=acme.workspace, phone=OTHER, country="KZ")
    Contact.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=9))
    since = timezone.now()
    Contact.objects.create(
        workspace=acme.workspace, phone=NUMBER, country="KZ", last_delivered_at=later
    )
    assert engagement.backfill(acme.workspace.pk, since) == 1
    assert dates(acme.workspace, NUMBER) == (SENT, later)  # delivered later than the message
    assert dates(acme.workspace, OTHER) == (None, None)  # not new: the roll-up's business


def test_new_contacts_are_backfilled_a_chunk_at_a_time(acme, history, monkeypatch):
    monkeypatch.setattr(engagement, "BACKFILL_CHUNK", 1)
    since = timezone.now()
    for phone in (NUMBER, OTHER):
        Contact.objects.create(workspace=acme.workspace, phone=phone, country="KZ")
    assert engagement.backfill(acme.workspace.pk, since) == 2
    assert dates(acme.workspace, NUMBER) == (SENT, DELIVERED)
    assert dates(acme.workspace, OTHER) == (SENT, None)
