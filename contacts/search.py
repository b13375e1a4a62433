"""Finding contacts in a book of a million: the contacts page's search, filters, sort and pages.

Nothing here counts a million rows to draw a page. A page is read one row past its end to know
whether another follows, and the total is counted only up to ``COUNT_CAP`` ("1,000+" beyond):
a capped count stops at the 1,001st row, where an exact one reads every match (a common city
in a million-contact book is ~80,000 rows, ten times slower). A number typed in any format is
normalised with the workspace's default country; a partial one matches the numbers starting
with its digits, as typed, as a national number of that country and, after 00, as an
international one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import phonenumbers
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from contacts import segments
from contacts.models import Contact, ContactField, ListMember, Segment
from contacts.search_indexes import searchable
from core import params, phones
from core.phones import Normalised

_NUMBER_LIKE = re.compile(r"[0-9+\-.() ]+")  # digits and what people type between them
PAGE_SIZE = 50
COUNT_CAP = 1_000
MAX_PAGE = 1_000  # 50,000 rows deep: past that, narrow the search

# sort key -> the ordering; the pk breaks ties so a page never repeats or skips a row.
SORTS = {
    "phone": ("phone",),
    "name": ("name", "pk"),
    "added": ("created_at", "pk"),
    "updated": ("updated_at", "pk"),
}
SORT_LABELS = {"phone": "Number", "name": "Name", "added": "Added", "updated": "Updated"}


def phone_q(text: str, default_country: str) -> Q | None:
    """The contacts whose number is ``text`` typed in any format, or, for part of a number,
    starts with its digits; None when ``text`` holds no digits."""
    digits = params.ascii_digits(text)
    if not digits:
        return None
    found = phones.normalise(text, default_country)
    if isinstance(found, Normalised):
        return Q(phone=found.e164)
    prefixes = {"+" + digits}
    if not text.lstrip().startswith("+"):
        prefixes |= starts_as_typed(digits, default_country)
        prefixes |= {_as_national(digits, default_country)} - {""}
    either = Q()
    for prefix in sorted(prefixes):
        either |= starting_with(prefix)
    return either


def starting_with(prefix: str) -> Q:
    """Numbers starting with "+<digits>", as a range the (workspace, phone) index answers in
    any collation: "+7709" is [+7709, +771). A LIKE 'x%' would need a pattern index unless the
    database's collation is C."""
    digits = prefix[1:].rstrip("9")
    if not digits:
        return Q(phone__gte=prefix)
    return Q(phone__gte=prefix, phone__lt=f"+{digits[:-1]}{int(digits[-1]) + 1}")


def _as_national(digits: str, country: str, *, trunk_only: bool = False) -> str:
    """ "+<country code><digits>" for the start of a national number of ``country`` (its
    trunk prefix, such as KZ's 8 or GB's 0, dropped); "" for an unknown country, or when
    ``trunk_only`` and the digits do not start with the trunk prefix."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(country or "", None)
    if metadata is None:
        return ""
    trunk = metadata.national_prefix_for_parsing or metadata.national_prefix or ""
    if trunk.isdigit() and digits.startswith(trunk):
        digits = digits[len(trunk) :]
    elif trunk_only:
        return ""
    return f"+{metadata.country_code}{digits}" if digits else ""


def starts_as_typed(digits: str, country: str) -> set[str]:
    """The starts of an international number that digits typed without a plus can only be:
    after 00, the international number; after ``country``'s trunk prefix, its national one."""
    starts = {"+" + digits[2:]} if digits.startswith("00") and digits[2:] else set()
    national = _as_national(digits, country, trunk_only=True)
    return starts | {national} if national else starts


@dataclass
class ContactFilter:
    """The contacts page's query string, read without trusting it. ``errors`` says what could
    not be used, naming the filter; the rest still applies."""

    search: str = ""
    field_key: str = ""
    field_value: str = ""
    list_pk: int | None = None
    segment_pk: int | None = None
    country: str = ""
    opted: str = ""  # "out", "in" or "" for both
    sort: str = "phone"
    descending: bool = False
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query) -> ContactFilter:
        sort = params.text(query.get("sort", ""), max_length=20)
        descending = sort.startswith("-")
        sort = sort.removeprefix("-")
        country = params.text(query.get("country", ""), max_length=3).upper()
        return cls(
            search=params.text(query.get("q", "")),
            field_key=params.text(query.get("field", ""), max_length=40),
            field_value=params.text(query.get("value", ""), max_length=200),
            list_pk=params.whole_number(query.get("list")),
            segment_pk=params.whole_number(query.get("segment")),
            country=country if country.isascii() and country.isalpha() else "",
            opted=query.get("opted") if query.get("opted") in ("out", "in") else "",
            sort=sort if sort in SORTS else "phone",
            descending=descending and sort in SORTS,
            page=min(params.whole_number(query.get("page")) or 1, MAX_PAGE),
        )

    @property
    def active(self) -> bool:
        return bool(
            self.search
            or self.field_value
            or self.list_pk
            or self.segment_pk
            or self.country
            or self.opted
        )

    @property
    def sort_value(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def apply(self, workspace) -> QuerySet:
        """The workspace's contacts this filter leaves, in its order."""
        contacts = Contact.objects.filter(workspace=workspace)
        if self.search:
            contacts = contacts.filter(self._search_q(workspace))
        if self.field_key and self.field_value:
            contacts = contacts.filter(self._field_q(workspace))
        if self.list_pk:
            contacts = contacts.filter(
                Exists(
                    ListMember.objects.filter(
                        contact_id=OuterRef("pk"),
                        contact_list_id=self.list_pk,
                        contact_list__workspace=workspace,
                    )
                )
            )
        if self.segment_pk:
            contacts = contacts.filter(self._segment_q(workspace))
        if self.country:
            contacts = contacts.filter(country=self.country)
        if self.opted:
            contacts = contacts.filter(opted_out_at__isnull=self.opted == "in")
        order = SORTS[self.sort]
        if self.descending:
            order = tuple("-" + column for column in order)
        return contacts.order_by(*order)

    def _search_q(self, workspace) -> Q:
        """A number when the search holds digits and nothing but separators; otherwise a
        name (contains, any case)."""
        by_name = searchable(Q(name__icontains=self.search))
        if _NUMBER_LIKE.fullmatch(self.search):
            by_phone = phone_q(self.search, workspace.default_country)
            if by_phone is not None:
                return by_phone
        return by_name

    def _field_q(self, workspace) -> Q:
        contact_field = ContactField.objects.filter(workspace=workspace, key=self.field_key).first()
        if contact_field is None:
            self.errors.append("Field: choose one of the workspace's fields.")
            return Q()
        op = {"number": "eq", "date": "on"}.get(contact_field.kind, "is")
        rule = {"field": f"field:{contact_field.key}", "op": op, "value": self.field_value}
        try:
            conditions = segments.parse({"rules": [rule]}, workspace)
        except segments.InvalidConditions as exc:
            self.errors.append(str(exc).replace("Rule 1: ", "Field search: "))
            return Q(pk__in=[])
        return segments.to_q(conditions)

    def _segment_q(self, workspace) -> Q:
        segment = Segment.objects.filter(workspace=workspace, pk=self.segment_pk).first()
        if segment is None:
            self.errors.append("Segment: it no longer exists; choose another.")
            return Q(pk__in=[])
        try:
            return segments.to_q(segments.parse(segment.conditions, workspace))
        except segments.InvalidConditions as exc:
            self.errors.append(f"Segment “{segment.name}” cannot be used: {exc} Edit it.")
            return Q(pk__in=[])


@dataclass
class ContactPage:
    """One page of contacts: ``total`` is exact up to COUNT_CAP; ``more`` says it is beyond."""

    number: int
    contacts: list[Contact]
    has_next: bool
    total: int
    more: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.contacts else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.contacts)


def capped_count(contacts: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """(how many, more than ``cap``, COUNT_CAP by default): counts at most cap + 1 rows."""
    cap = cap or COUNT_CAP
    found = contacts.order_by()[: cap + 1].count()
    return min(found, cap), found > cap


def estimated(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` returns, from its statistics (no
    row is read); None on another database."""
    if connection.vendor != "postgresql":
        return None
    sql, sql_params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", sql_params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def page_of(contacts: QuerySet, number: int) -> ContactPage:
    start = (number - 1) * PAGE_SIZE
    rows = list(contacts[start : start + PAGE_SIZE + 1])
    total, more = capped_count(contacts)
    return ContactPage(number, rows[:PAGE_SIZE], len(rows) > PAGE_SIZE, total, more)
