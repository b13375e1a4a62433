"""The contact book's own rules: finding and creating contacts by number, and opting them out
and back in. Everything that must never send to an opted-out number reads ``opted_out_phones``.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import Contact, OptOutSource
from core import phones

_BATCH = 5_000


def opted_out_phones(workspace_id: int) -> QuerySet:
    """The E.164 numbers that must never receive a message from the workspace, as a
    ``values("phone")`` queryset to use as a subquery."""
    return Contact.objects.filter(workspace_id=workspace_id, opted_out_at__isnull=False).values(
        "phone"
    )


def zone_of(e164: str) -> str:
    """The number's IANA zone where phonenumbers knows a single one for it, else ""."""
    return phones.single_time_zone(e164)


def opt_out(
    workspace, numbers: list[str], *, source: str = OptOutSource.MANUAL, note: str = ""
) -> int:
    """Opts the E.164 ``numbers`` out, creating a contact for a number the book does not hold.
    Returns how many were not opted out before; one already out keeps its first date."""
    now = timezone.now()
    added = 0
    for start in range(0, len(numbers), _BATCH):
        chunk = numbers[start : start + _BATCH]
        known = set(
            Contact.objects.filter(workspace=workspace, phone__in=chunk).values_list(
                "phone", flat=True
            )
        )
        Contact.objects.bulk_create(
            [
                Contact(
                    workspace=workspace,
                    phone=phone,
                    country=phones.region_of(phone),
                    time_zone=zone_of(phone),
                )
                for phone in chunk
                if phone not in known
            ],
            ignore_conflicts=True,
        )
        added += Contact.objects.filter(
            workspace=workspace, phone__in=chunk, opted_out_at__isnull=True
        ).update(opted_out_at=now, opt_out_source=source, opt_out_note=note[:255], updated_at=now)
    return added


def opt_in(contact: Contact) -> None:
    """The contact may receive messages again."""
    contact.opted_out_at = None
    contact.opt_out_source = ""
    contact.opt_out_note = ""
    contact.save(update_fields=["opted_out_at", "opt_out_source", "opt_out_note", "updated_at"])
