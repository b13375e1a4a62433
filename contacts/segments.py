"""Segments: saved conditions over a workspace's contacts, and audiences built from lists and
segments minus exclusion lists and opt-outs.

A segment's ``conditions`` are ``{"match": "all" | "any", "rules": [rule, ...]}``; a rule is
``{"field": ..., "op": ..., "value": ...}``. The fields are the contact's own (``country``,
``name``, ``language``, ``list``, ``opted_out``), engagement (``sent``, ``delivered``: the
last time a message went to or reached the contact) and the workspace's custom fields as
``field:<key>``. ``parse`` checks a rule set against the workspace's fields and says which rule
is wrong and how; ``to_q`` turns a checked set into one filter.

Equality on a custom field is a JSON containment (``fields @> {"city": "Almaty"}``), which
PostgreSQL answers from the GIN index on ``fields``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from contacts import field_lookups
from contacts.models import Contact, ContactField, FieldKind, ListMember
from contacts.search_indexes import searchable

# op -> label, per kind of value. "days" ops take a whole number of days.
TEXT_OPS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "empty": "is empty",
    "not_empty": "is not empty",
}
NUMBER_OPS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "empty": "is empty",
    "not_empty": "is not empty",
}
DATE_OPS = {
    "on": "is on",
    "before": "is before",
    "after": "is after",
    "empty": "is empty",
    "not_empty": "is not empty",
}
CHOICE_OPS = {"is": "is", "is_not": "is not", "empty": "is empty", "not_empty": "is not empty"}
ENGAGEMENT_OPS = {
    "within_days": "in the last … days",
    "not_within_days": "not in the last … days",
    "never": "never",
}
LIST_OPS = {"in": "is in", "not_in": "is not in"}
BOOLEAN_OPS = {"yes": "yes", "no": "no"}
NO_VALUE = {"empty", "not_empty", "never", "yes", "no"}

BUILT_IN = {
    "country": ("Country", "country", CHOICE_OPS),
    "name": ("Name", "text", TEXT_OPS),
    "language": ("Language", "text", TEXT_OPS),
    "list": ("List", "list", LIST_OPS),
    "opted_out": ("Opted out", "boolean", BOOLEAN_OPS),
    "sent": ("Sent a message", "engagement", ENGAGEMENT_OPS),
    "delivered": ("Delivered a message", "engagement", ENGAGEMENT_OPS),
}
OPS_OF_KIND = {
    FieldKind.TEXT: TEXT_OPS,
    FieldKind.NUMBER: NUMBER_OPS,
    FieldKind.DATE: DATE_OPS,
    FieldKind.CHOICE: CHOICE_OPS,
}
MAX_RULES = 50


class InvalidConditions(ValueError):
    """The conditions cannot be used; the message names the rule and what to change."""


@dataclass(frozen=True)
class Rule:
    field: str  # "country", ..., or "field:<key>"
    op: str
    value: object = None  # typed: str, Decimal, date, int (days or a list id)


@dataclass(frozen=True)
class Conditions:
    match: str  # "all" or "any"
    rules: tuple[Rule, ...]


def choosable_fields(workspace) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Every field a rule may name: key -> (label, kind, {op: label})."""
    fields = dict(BUILT_IN)
    for field in ContactField.objects.filter(workspace=workspace):
        fields[f"field:{field.key}"] = (field.label, field.kind, OPS_OF_KIND[field.kind])
    return fields


def parse(raw: dict | None, workspace) -> Conditions:
    """Checks stored or submitted conditions; raises InvalidConditions naming the rule."""
    raw = raw or {}
    match = raw.get("match", "all")
    if match not in ("all", "any"):
        raise InvalidConditions('Match must be "all" or "any".')
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise InvalidConditions("The rules must be a list.")
    if len(rules) > MAX_RULES:
        raise InvalidConditions(f"A segment has at most {MAX_RULES} rules; remove some.")
    fields = choosable_fields(workspace)
    allowed = {
        "list": set(workspace.contact_lists.values_list("pk", flat=True)),
        **{
            f"field:{key}": choices
            for key, choices in ContactField.objects.filter(
                workspace=workspace, kind=FieldKind.CHOICE
            ).values_list("key", "choices")
        },
    }
    return Conditions(
        match, tuple(_rule(n, rule, fields, allowed) for n, rule in enumerate(rules, 1))
    )


def _rule(number: int, raw, fields, allowed: dict) -> Rule:
    if not isinstance(raw, dict):
        raise InvalidConditions(f"Rule {number} is not a condition.")
    name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    # Conditions come from the API's JSON too: an array or object is no field (review r23).
    if not isinstance(name, str) or name not in fields:
        raise InvalidConditions(f"Rule {number}: choose a field.")
    label, kind, ops = fields[name]
    if not isinstance(op, str) or op not in ops:
        raise InvalidConditions(f"Rule {number}: choose how to compare {label}.")
    if op in NO_VALUE:
        return Rule(name, op)
    if isinstance(value, list | dict):
        raise InvalidConditions(f"Rule {number}: give {label} one value, as text or a number.")
    text = str(value if value is not None else "").strip()
    if not text:
        raise InvalidConditions(f"Rule {number}: enter a value for {label}.")
    value = _typed(number, label, kind, text, allowed.get(name, ()))
    return Rule(name, op, value)


def _typed(number: int, label: str, kind: str, text: str, allowed):
    """The rule's value as its field's kind reads it; ``allowed`` holds a list rule's list
    ids or a choice field's choices."""
    where = f"Rule {number}: {label}"
    if kind == "engagement":
        if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 36_500:
            raise InvalidConditions(f"{where} needs a number of days between 1 and 36500.")
        return int(text)
    if kind == "list":
        if not text.isascii() or not text.isdigit() or int(text) not in allowed:
            raise InvalidConditions(f"{where}: choose one of the workspace's lists.")
        return int(text)
    if kind == FieldKind.NUMBER:
        try:
            number_value = Decimal(text.replace(",", "."))
        except InvalidOperation:
            raise InvalidConditions(f"{where} needs a number, not {text!r}.") from None
        if not number_value.is_finite():
            raise InvalidConditions(f"{where} needs a number, not {text!r}.")
        return number_value
    if kind == FieldKind.DATE:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidConditions(f"{where} needs a date as YYYY-MM-DD.") from None
    if kind == "country":
        if text.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidConditions(f"{where}: choose a country, such as KZ.")
        return text.upper()
    if kind == FieldKind.CHOICE and text not in allowed:
        raise InvalidConditions(f"{where}: choose one of {', '.join(allowed)}.")
    return text[:200]


def to_q(conditions: Conditions) -> Q:
    """One filter for the contacts matching ``conditions`` (every contact for no rules)."""
    parts = [_q(rule) for rule in conditions.rules]
    if not parts:
        # Not Q(): combined with another source, an empty Q() vanishes instead of matching
        # everyone (Q() | Q(x) is Q(x)).
        return Q(pk__isnull=False)
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if conditions.match == "all" else combined | part
    return combined


def _q(rule: Rule) -> Q:
    name, op, value = rule.field, rule.op, rule.value
    if name.startswith("field:"):
        return _field_q(name.removeprefix("field:"), op, value)
    if name in ("sent", "delivered"):
        column = f"last_{name}_at"
        if op == "never":
            return Q(**{f"{column}__isnull": True})
        recent = Q(**{f"{column}__gte": timezone.now() - dt.timedelta(days=value)})
        return recent if op == "within_days" else ~recent
    if name == "list":
        # IN, not a correlated EXISTS: counted among other segments (COUNT ... FILTER) it is
        # one hashed set of the list's members, not a lookup per contact.
        member = Q(pk__in=ListMember.objects.filter(contact_list_id=value).values("contact_id"))
        return member if op == "in" else ~member
    if name == "opted_out":
        return Q(opted_out_at__isnull=op == "no")
    return _text_q(name, op, value)


def _text_q(column: str, op: str, value) -> Q:
    if op == "empty":
        return Q(**{column: ""})
    if op == "not_empty":
        return ~Q(**{column: ""})
    if op == "contains":
        return _indexed(column, Q(**{f"{column}__icontains": value}))
    if column == "country" or op in ("is", "is_not"):
        same = Q(**{f"{column}__iexact": value}) if column != "country" else Q(country=value)
        same = _indexed(column, same)
        return same if op == "is" else ~same
    raise AssertionError(op)


def _indexed(column: str, q: Q) -> Q:
    """``q`` as the name's trigram indexes can answer it (contacts.search_indexes)."""
    return searchable(q) if column == "name" else q


def _field_q(key: str, op: str, value) -> Q:
    present = field_lookups.present(key)
    if op == "empty":
        return ~present
    if op == "not_empty":
        return present
    if op in ("is", "is_not", "eq", "ne", "on"):
        stored = _stored(value)
        # Containment on PostgreSQL (the GIN index answers it); SQLite has no such lookup.
        if connection.vendor == "postgresql":
            same = searchable(field_lookups.holds(key, stored))
        else:
            same = field_lookups.where(key, "exact", stored)
        return same if op in ("is", "eq", "on") else present & ~same
    if op == "contains":
        return field_lookups.where(key, "icontains", value)
    lookup = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte", "before": "lt", "after": "gt"}
    return present & field_lookups.where(key, lookup[op], _stored(value))


def _stored(value):
    """A value as Contact.fields stores it: numbers as JSON numbers, dates as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def members(workspace, conditions: dict | None) -> QuerySet:
    """The workspace's contacts matching stored conditions."""
    return Contact.objects.filter(workspace=workspace).filter(to_q(parse(conditions, workspace)))


def audience(workspace, *, lists=(), segments=(), exclude_lists=()) -> QuerySet:
    """The contacts a campaign drawing on these lists and segments reaches: members of any of
    them, minus members of any exclusion list, minus opted-out contacts; each once."""
    sources: list[Q] = []
    list_ids = [getattr(item, "pk", item) for item in lists]
    if list_ids:
        sources.append(
            Q(
                Exists(
                    ListMember.objects.filter(
                        contact_id=OuterRef("pk"), contact_list_id__in=list_ids
                    )
                )
            )
        )
    sources += [to_q(parse(segment.conditions, workspace)) for segment in segments]
    if not sources:
        return Contact.objects.none()
    either = sources[0]
    for source in sources[1:]:
        either |= source
    reached = Contact.objects.filter(workspace=workspace, opted_out_at__isnull=True).filter(either)
    excluded_ids = [getattr(item, "pk", item) for item in exclude_lists]
    if excluded_ids:
        reached = reached.exclude(
            Exists(
                ListMember.objects.filter(
                    contact_id=OuterRef("pk"), contact_list_id__in=excluded_ids
                )
            )
        )
    return reached
