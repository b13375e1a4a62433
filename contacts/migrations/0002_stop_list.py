"""The stop list becomes the contacts' opt-outs: every entry becomes an opted-out contact
(created for a number the book does not hold), keeping when it was added and its note.
Backwards, every opted-out contact becomes a stop-list entry again."""

import phonenumbers
from django.db import migrations
from phonenumbers import timezone as zones


def _region(e164):
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _zone(e164):
    try:
        found = zones.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return ""
    return found[0] if len(found) == 1 and found[0] != zones.UNKNOWN_TIMEZONE else ""


def forwards(apps, schema_editor):
    Entry = apps.get_model("campaigns", "StopListEntry")
    Contact = apps.get_model("contacts", "Contact")
    for entry in Entry.objects.order_by("pk").iterator(chunk_size=2_000):
        contact, created = Contact.objects.get_or_create(
            workspace_id=entry.workspace_id,
            phone=entry.phone,
            defaults={"country": _region(entry.phone), "time_zone": _zone(entry.phone)},
        )
        if contact.opted_out_at is None:
            contact.opted_out_at = entry.created_at
            contact.opt_out_source = "manual"
            contact.opt_out_note = entry.note
            contact.save(update_fields=["opted_out_at", "opt_out_source", "opt_out_note"])


def backwards(apps, schema_editor):
    Entry = apps.get_model("campaigns", "StopListEntry")
    Contact = apps.get_model("contacts", "Contact")
    out = Contact.objects.filter(opted_out_at__isnull=False).order_by("pk")
    for contact in out.iterator(chunk_size=2_000):
        entry, _ = Entry.objects.get_or_create(
            workspace_id=contact.workspace_id,
            phone=contact.phone,
            defaults={"note": contact.opt_out_note},
        )
        Entry.objects.filter(pk=entry.pk).update(created_at=contact.opted_out_at)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0001_initial"),
        ("campaigns", "0014_batch"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
