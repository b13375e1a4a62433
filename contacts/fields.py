"""The rules of a workspace's custom fields: how many, which keys, and what a change of kind or
choices may do to the values contacts already hold.

A value is stored in ``Contact.fields`` typed as JSON: text and a choice as a string, a number
as a JSON number, a date as ISO text ("2026-12-06"), so segments compare them as such.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection

from contacts import field_lookups
from contacts.models import Contact, ContactField
from contacts.search_indexes import searchable

MAX_FIELDS = 200
MAX_CHOICES = 100
# Keys a message's placeholders already give another meaning: the contact's own columns.
RESERVED_KEYS = {"phone", "name", "country", "language", "time_zone"}


def stored(value):
    """A typed value as Contact.fields keeps it."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def holders(field: ContactField) -> int:
    """How many contacts hold a value for ``field``."""
    return Contact.objects.filter(
        field_lookups.has(field.key), workspace_id=field.workspace_id
    ).count()


def holders_of_choice(field: ContactField, choice: str) -> int:
    """How many contacts hold ``choice`` as their value for ``field``."""
    if connection.vendor == "postgresql":  # containment: the GIN index on fields answers it
        same = searchable(field_lookups.holds(field.key, choice))
    else:
        same = field_lookups.where(field.key, "exact", choice)
    return Contact.objects.filter(same, workspace_id=field.workspace_id).count()


def forget_values(field: ContactField) -> int:
    """Removes every contact's value for ``field`` (before the field is deleted), so a later
    field with the same key starts empty. Returns how many contacts held one."""
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET fields = fields - %s WHERE workspace_id = %s AND fields ? %s",
                [field.key, field.workspace_id, field.key],
            )
        else:
            path = f'$."{field.key}"'
            cursor.execute(
                f"UPDATE {table} SET fields = json_remove(fields, %s) "
                "WHERE workspace_id = %s AND json_type(fields, %s) IS NOT NULL",
                [path, field.workspace_id, path],
            )
        return cursor.rowcount
