"""A contact import's column mapping: what each column becomes (the phone number, a contact
attribute, an existing custom field, a new one, or nothing), guessed from the headers and
checked before the import may run.

A target is a key of contacts.models.MAPPING_TARGETS, "field:<key>" for an existing
ContactField or "new:<key>" for one the import creates (ContactImport.new_fields).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.text import slugify

from contacts.models import MAPPING_TARGETS, ContactField, ContactImport, FieldKind
from core.tables.table import header_key

NEW_FIELD_KINDS = [(FieldKind.TEXT, "Text"), (FieldKind.NUMBER, "Number"), (FieldKind.DATE, "Date")]
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Headers that say what a column is without a choice (header_key'd).
_GUESSES = {
    "name": "name",
    "full_name": "name",
    "имя": "name",
    "language": "language",
    "lang": "language",
    "язык": "language",
    "time_zone": "time_zone",
    "timezone": "time_zone",
    "tz": "time_zone",
    "opted_out": "opted_out",
    "unsubscribed": "opted_out",
    "opt_out": "opted_out",
}


def max_fields() -> int:
    return settings.CRIER_CONTACT_FIELDS_MAX


def guess(imp: ContactImport) -> tuple[list[str], dict]:
    """A target for every column: the phone column, the contact's own attributes and the
    workspace's fields by header, and a new text field for any other named column."""
    existing = {}
    for f in ContactField.objects.filter(workspace=imp.workspace):
        existing[header_key(f.key)] = existing[header_key(f.label)] = f.key
    mapping, new_fields = [], {}
    taken = set()
    for index, header in enumerate(imp.columns):
        key = header_key(header)
        if index == imp.phone_column:
            target = "phone"
        elif _GUESSES.get(key) and _GUESSES[key] not in taken:
            target = _GUESSES[key]
        elif key in existing and f"field:{existing[key]}" not in taken:
            target = f"field:{existing[key]}"
        elif header.strip() and (new_key := field_key(header)) and f"new:{new_key}" not in taken:
            target = f"new:{new_key}"
            new_fields[new_key] = {"label": header.strip()[:100], "kind": FieldKind.TEXT}
        else:
            target = "ignore"
        taken.add(target)
        mapping.append(target)
    return mapping, new_fields


def field_key(label: str) -> str:
    """The key a new field named ``label`` gets: "Date of birth" -> "date_of_birth"."""
    key = slugify(label).replace("-", "_")[:40].strip("_")
    if key and not key[0].isalpha():
        key = f"f_{key}"[:40]
    return key if _KEY.fullmatch(key or "") else ""


def problems(imp: ContactImport) -> list[str]:
    """What stops the mapping from running, as sentences naming the column; empty when none."""
    found = []
    if imp.mapping.count("phone") != 1:
        found.append("Choose exactly one column of phone numbers.")
    existing = set(
        ContactField.objects.filter(workspace=imp.workspace).values_list("key", flat=True)
    )
    seen: dict[str, str] = {}
    new = 0
    for index, target in enumerate(imp.mapping):
        column = _column_name(imp, index)
        if target == "ignore":
            continue
        if target in seen:
            found.append(f"{column} and {seen[target]} both go to the same place; keep one.")
            continue
        seen[target] = column
        kind, _, key = target.partition(":")
        if kind == "field":
            if key not in existing:
                found.append(f"{column}: the field “{key}” no longer exists; choose another.")
        elif kind == "new":
            new += 1
            spec = imp.new_fields.get(key) or {}
            if not _KEY.fullmatch(key):
                found.append(
                    f"{column}: a new field needs a key of small letters, digits and _, "
                    "starting with a letter."
                )
            elif key in existing or key in MAPPING_TARGETS:
                found.append(
                    f"{column}: the workspace has a field “{key}” already; map the column to "
                    "it or give the new field another key."
                )
            if spec.get("kind") not in dict(NEW_FIELD_KINDS):
                found.append(
                    f"{column}: choose whether the new field holds text, a number or a date."
                )
            if not str(spec.get("label", "")).strip():
                found.append(f"{column}: give the new field a name.")
        elif kind not in MAPPING_TARGETS:
            found.append(f"{column}: choose what this column is.")
    if new and len(existing) + new > max_fields():
        found.append(
            f"A workspace can have at most {max_fields()} contact fields; it has "
            f"{len(existing)} and this import would add {new}. Map some columns to existing "
            "fields or choose “Do not import” for them."
        )
    return found


def _column_name(imp: ContactImport, index: int) -> str:
    header = imp.columns[index] if index < len(imp.columns) else ""
    return f"Column {index + 1} ({header})" if header else f"Column {index + 1}"
