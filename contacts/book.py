"""The contact book's own rules: finding and creating contacts by number, and opting them out
and back in. Everything that must never send to an opted-out number reads ``opted_out_phones``.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.log import record
from audit.models import Action
from contacts.models import Contact, OptOutSource
from contacts.signals import contacts_added
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
    workspace,
    numbers: list[str],
    *,
    actor,
    where: str,
    source: str = OptOutSource.MANUAL,
    note: str = "",
) -> int:
    """Opts the E.164 ``numbers`` out (``mark_opted_out``) and records it as one audit event
    by ``actor`` (a user, or None for Crier itself), made ``where`` ("page", "API", ...).
    Returns how many were not opted out before."""
    with transaction.atomic():
        added = mark_opted_out(workspace, numbers, source=source, note=note)
        one = None
        if added == 1 and len(numbers) == 1:
            one = Contact.objects.get(workspace=workspace, phone=numbers[0]).pk
        record_opt_out(workspace, actor, added, where, contact_id=one)
    return added


def mark_opted_out(workspace, numbers: list[str], *, source: str, note: str = "") -> int:
    """Opts the E.164 ``numbers`` out, creating a contact for a number the book does not hold,
    and records nothing: a caller opting a file out in batches records the whole file once
    (``record_opt_out``). Returns how many were not opted out before; one already out keeps
    its first date."""
    now = timezone.now()
    added = created = 0
    for start in range(0, len(numbers), _BATCH):
        chunk = numbers[start : start + _BATCH]
        known = set(
            Contact.objects.filter(workspace=workspace, phone__in=chunk).values_list(
                "phone", flat=True
            )
        )
        new = [
            Contact(
                workspace=workspace,
                phone=phone,
                country=phones.region_of(phone),
                time_zone=zone_of(phone),
            )
            for phone in chunk
            if phone not in known
        ]
        Contact.objects.bulk_create(new, ignore_conflicts=True)
        created += len(new)
        added += Contact.objects.filter(
            workspace=workspace, phone__in=chunk, opted_out_at__isnull=True
        ).update(opted_out_at=now, opt_out_source=source, opt_out_note=note[:255], updated_at=now)
    if created:
        contacts_added.send(Contact, workspace_id=workspace.pk, since=now)
    return added


def record_opt_out(workspace, actor, added: int, where: str, contact_id=None, **details) -> None:
    """The audit event of one opt-out action: "contact 12" when it was one known contact,
    else the count ("3 numbers"); never a number, nor the note (free text may hold one).
    Nothing when no number changed. Call it inside the opt-out's transaction."""
    if not added:
        return
    if contact_id is not None:
        details["contact_id"] = contact_id
    shown = f"contact {contact_id}" if contact_id else f"{added:,} number{'s' * (added != 1)}"
    record(
        workspace, actor, Action.CONTACTS_OPTED_OUT, shown, opted_out=added, **details, source=where
    )


def opt_in(contact: Contact, *, actor, where: str) -> None:
    """The contact may receive messages again; recorded as ``actor``'s, made ``where``, when
    the database had them out (a second click, or a stale ``contact``, records nothing)."""
    now = timezone.now()
    with transaction.atomic():
        was_out = Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=False).update(
            opted_out_at=None, opt_out_source="", opt_out_note="", updated_at=now
        )
        if was_out:
            record(
                contact.workspace,
                actor,
                Action.CONTACT_OPTED_IN,
                f"contact {contact.pk}",
                contact_id=contact.pk,
                source=where,
            )
    contact.opted_out_at, contact.opt_out_source, contact.opt_out_note = None, "", ""
    contact.updated_at = now
