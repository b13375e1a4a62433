"""Conditions on a contact's custom field by its key, built as expressions.

A key is any slug the user chose or an import made ("utm__source", "gt", "contains"), so it is
never put in a keyword like ``fields__<key>``: Django would split it into a path of keys or
take it for a lookup, and a segment would answer wrong or fail (review r23)."""

from __future__ import annotations

from django.db.models import ExpressionWrapper, F, JSONField, Q
from django.db.models.fields.json import DataContains, HasKey, KeyTransform

# The column with its type known when a lookup is made, so the lookup prepares its value as
# JSON the way ``filter(fields__...)`` would.
FIELDS = ExpressionWrapper(F("fields"), output_field=JSONField())


def has(key: str) -> Q:
    """The contact's fields hold ``key`` (whatever its value)."""
    return Q(HasKey(FIELDS, key))


def where(key: str, lookup: str, value) -> Q:
    """``fields -> key <lookup> value``: "exact", "isnull", "icontains", "lt", "gt"..."""
    expression = KeyTransform(key, FIELDS)
    return Q(expression.get_lookup(lookup)(expression, value))


def holds(key: str, value) -> Q:
    """``fields @> {key: value}`` (PostgreSQL: the GIN indexes answer it)."""
    return Q(DataContains(FIELDS, {key: value}))


def present(key: str) -> Q:
    """A value for ``key`` that is not blank."""
    return has(key) & ~where(key, "exact", "") & ~where(key, "isnull", True)
