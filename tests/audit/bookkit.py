"""What the contact book's audit tests share (tests/audit/test_book_audit.py for the pages,
tests/api/test_book_audit.py for the API): the book's actions, their events, and the check that
no event holds a phone number (the ``no_phone_number_in_any_event`` fixture, tests/conftest.py)."""

from __future__ import annotations

import json
import re

from audit.models import Action, AuditEvent
from contacts.models import Contact

# Book and template actions: the fixtures' own events (an API key, a webhook) are not ours.
BOOK = {
    Action.CONTACTS_OPTED_OUT,
    Action.CONTACT_OPTED_IN,
    Action.CONTACT_CREATED,
    Action.CONTACT_CHANGED,
    Action.CONTACT_DELETED,
    Action.CONTACTS_IMPORTED,
    Action.LIST_CREATED,
    Action.LIST_RENAMED,
    Action.LIST_DELETED,
    Action.LIST_MEMBERS_ADDED,
    Action.LIST_MEMBERS_REMOVED,
    Action.SEGMENT_CREATED,
    Action.SEGMENT_CHANGED,
    Action.SEGMENT_DELETED,
    Action.FIELD_CREATED,
    Action.FIELD_CHANGED,
    Action.FIELD_DELETED,
    Action.TEMPLATE_CREATED,
    Action.TEMPLATE_CHANGED,
    Action.TEMPLATE_DELETED,
}
PHONE_LIKE = re.compile(r"\+?\d[\d ]{6,}\d")


def book_events():
    return list(AuditEvent.objects.filter(action__in=BOOK).order_by("pk"))


def only_event(action=None):
    (event,) = book_events()
    if action is not None:
        assert event.action == action
    return event


def assert_no_phone_number(phones: set[str]) -> None:
    """No event written holds a phone number, whether one the book holds still, one it held
    (deleted or erased: ``phones``), or anything shaped like one."""
    phones = phones | set(Contact.objects.values_list("phone", flat=True))
    for event in AuditEvent.objects.all():
        text = event.target + " " + json.dumps(event.details, default=str)
        for phone in phones:
            assert phone not in text and phone.lstrip("+") not in text, (event.action, text)
        if event.action in BOOK:  # a key's hex prefix ("via") may be all digits
            shown = {k: v for k, v in event.details.items() if k != "via"}
            text = event.target + " " + json.dumps(shown, default=str)
            assert not PHONE_LIKE.search(text), text
