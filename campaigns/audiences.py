"""A campaign's audience from the contact book: the members of its lists and segments, minus its
exclusion lists, opted-out contacts, numbers its file recipients hold already, countries its
account may not send to and (under the REJECT policy) contacts missing a value its text uses;
each contact once.

The audience is live while the campaign is a draft (``contacts``, ``count``: the compose page
and the price read it as it is now) and fixed at launch: ``snapshot`` copies it into pending
``Message`` rows in one INSERT ... SELECT, inside the launch's transaction, so later changes to
the lists, segments or contacts do not change what a launched campaign sends.

A contact's message carries its values as placeholders: ``{name}``, ``{language}`` and each
custom field by its key (``{city}``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns.models import Campaign, Message, PlaceholderPolicy
from contacts import field_lookups, segments
from contacts.models import Contact, ListMember
from core.columns import placeholders_in
from core.statuses import MessageStatus

BUILT_IN_PLACEHOLDERS = ("name", "language")  # the contact's own columns, beside its fields

# pg_advisory_xact_lock's first key, the second being the workspace: held shared by a launch
# (its snapshot reads the book) and exclusive by an erasure (review r23).
BOOK_LOCK = 2023


class BrokenSegment(ValueError):
    """A chosen segment's conditions no longer hold (a field it names was deleted); the
    message names the segment and the rule."""


def problem(campaign: Campaign) -> str:
    """Why the audience cannot be read now ("" when it can): the compose page and the launch
    show it instead of a count."""
    try:
        _drawn(campaign, _sources(campaign))
    except BrokenSegment as error:
        return f"Step 3: {error} Edit the segment or choose another."
    return ""


def has_audience(campaign: Campaign) -> bool:
    """Whether the campaign draws on any list or segment (its choice, not its members)."""
    return campaign.audience_lists.exists() or campaign.audience_segments.exists()


def _sources(campaign: Campaign) -> dict:
    return {
        "lists": list(campaign.audience_lists.values_list("pk", flat=True)),
        "segments": list(campaign.audience_segments.all()),
        "exclude_lists": list(campaign.exclusion_lists.values_list("pk", flat=True)),
    }


def _drawn(campaign: Campaign, sources: dict) -> Q | None:
    """The contacts in any chosen list or segment (before anything is taken away)."""
    parts = []
    if sources["lists"]:
        member = ListMember.objects.filter(
            contact_id=OuterRef("pk"), contact_list_id__in=sources["lists"]
        )
        parts.append(Q(Exists(member)))
    for segment in sources["segments"]:
        try:
            parts.append(segments.to_q(segments.parse(segment.conditions, campaign.workspace)))
        except segments.InvalidConditions as error:
            raise BrokenSegment(f"The segment “{segment.name}” cannot be used: {error}") from None
    if not parts:
        return None
    either = parts[0]
    for part in parts[1:]:
        either |= part
    return either


def _reasons(campaign: Campaign, sources: dict) -> dict[str, Q]:
    """Why a drawn contact is left out, in the order the counts give them: a contact left out
    for several reasons counts under the first."""
    reasons = {"opted_out": Q(opted_out_at__isnull=False)}
    if sources["exclude_lists"]:
        excluded = ListMember.objects.filter(
            contact_id=OuterRef("pk"), contact_list_id__in=sources["exclude_lists"]
        )
        reasons["excluded"] = Q(Exists(excluded))
    if campaign.pk:  # the numbers the campaign holds already (its file's, on a draft)
        in_file = Message.objects.filter(campaign_id=campaign.pk, phone=OuterRef("phone"))
        reasons["in_file"] = Q(Exists(in_file))
    allowed = campaign.account.allowed_country_set() if campaign.account_id else None
    if allowed is not None:
        reasons["country"] = ~Q(country__in=sorted(allowed))
    if campaign.placeholder_policy == PlaceholderPolicy.REJECT:
        missing = [_missing(name) for name in placeholders_in(campaign.text)]
        if missing:
            either = missing[0]
            for part in missing[1:]:
                either |= part
            reasons["missing_value"] = either
    return reasons


def _missing(name: str) -> Q:
    """The contacts without a value for ``{name}``: blank, or absent from their fields."""
    if name in BUILT_IN_PLACEHOLDERS:
        return Q(**{name: ""})
    return ~field_lookups.present(name)


def contacts(campaign: Campaign, *, in_file: bool = True) -> QuerySet:
    """The contacts the campaign reaches now, each once; none when it draws on no list or
    segment. ``in_file=False`` keeps the contacts whose numbers the campaign holds already
    (snapshot leaves them out its own way)."""
    sources = _sources(campaign)
    drawn = _drawn(campaign, sources)
    if drawn is None:
        return Contact.objects.none()
    reached = Contact.objects.filter(workspace_id=campaign.workspace_id).filter(drawn)
    for reason, condition in _reasons(campaign, sources).items():
        if in_file or reason != "in_file":
            reached = reached.exclude(condition)
    return reached.order_by()


@dataclass(frozen=True)
class AudienceCount:
    """The audience as the compose page shows it."""

    drawn: int  # contacts in any of the lists and segments, each once
    reached: int  # of them, those who get a message
    dropped: dict[str, int]  # reason (see LEFT_OUT) -> contacts left out for it

    @property
    def left_out(self) -> list[tuple[str, int]]:
        return [(LEFT_OUT[reason], n) for reason, n in self.dropped.items() if n]


LEFT_OUT = {
    "opted_out": "opted out",
    "excluded": "in an exclusion list",
    "in_file": "already among the uploaded recipients",
    "country": "in a country the account may not send to",
    "missing_value": "missing a value the text uses",
}
NOTHING = AudienceCount(0, 0, {})


def count(campaign: Campaign) -> AudienceCount:
    """How many contacts the campaign reaches now and how many it leaves out and why, each
    counted under the first reason that leaves it out: one pass over the drawn contacts.

    The exclusion lists and the file's numbers are joined (hash joins on PostgreSQL) rather than
    tested per contact: an EXISTS inside an aggregate's FILTER runs once a row, a minute at a
    million contacts where the joins take a fraction of a second.
    """
    sources = _sources(campaign)
    drawn = _drawn(campaign, sources)
    if drawn is None:
        return NOTHING
    reasons = _reasons(campaign, sources)
    flags = {
        f"r_{reason}": ExpressionWrapper(condition, output_field=BooleanField())
        for reason, condition in reasons.items()
        if reason not in ("excluded", "in_file")
    }
    pool = Contact.objects.filter(workspace_id=campaign.workspace_id).filter(drawn).order_by()
    select, params = pool.annotate(**flags).values("id", "phone", *flags).query.sql_with_params()
    joins, predicates = "", {}
    for reason in reasons:
        if reason == "excluded":
            ids = sources["exclude_lists"]
            joins += (
                " LEFT JOIN (SELECT DISTINCT contact_id FROM contacts_membership WHERE "
                f"contact_list_id IN ({', '.join(['%s'] * len(ids))})) x ON x.contact_id = a.id"
            )
            params = (*params, *ids)
            predicates[reason] = "x.contact_id IS NOT NULL"
        elif reason == "in_file":
            joins += (
                f" LEFT JOIN (SELECT DISTINCT phone FROM {Message._meta.db_table} WHERE "
                "campaign_id = %s) f ON f.phone = a.phone"
            )
            params = (*params, campaign.pk)
            predicates[reason] = "f.phone IS NOT NULL"
        else:
            predicates[reason] = f"(a.r_{reason}) IS TRUE"
    columns, earlier = ["COUNT(*)"], []
    for predicate in predicates.values():
        unless = "".join(f" AND NOT ({before})" for before in earlier)
        columns.append(f"COUNT(*) FILTER (WHERE {predicate}{unless})")
        earlier.append(predicate)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM ({select}) a{joins}", params)
        drawn_count, *dropped = cursor.fetchone()
    by_reason = dict(zip(predicates, dropped, strict=True))
    return AudienceCount(drawn_count, drawn_count - sum(by_reason.values()), by_reason)


def values_of(contact: Contact) -> dict:
    """A contact's placeholder values, as ``snapshot`` stores them in its message."""
    return {**(contact.fields or {}), "name": contact.name, "language": contact.language}


def fields_sql(alias: str) -> str:
    """SQL for a contact's placeholder values (its fields, then name and language)."""
    if connection.vendor == "postgresql":
        return (
            f"(COALESCE({alias}.fields, '{{}}'::jsonb) || "
            f"jsonb_build_object('name', {alias}.name, 'language', {alias}.language))"
        )
    return (
        f"json_patch(COALESCE({alias}.fields, '{{}}'), "
        f"json_object('name', {alias}.name, 'language', {alias}.language))"
    )


# 12 hex digits of the launch's millisecond, 10 of the contact's id, 10 random: unique within
# the statement by construction, random across launches, and time-ordered like
# campaigns.models.references (the unique index grows at its end) without sorting the rows.
_REFERENCE = {
    # to_hex of a random number: md5(random()::text) costs five times as much a row.
    "postgresql": "%s || lpad(to_hex(a.id), 10, '0') || "
    "lpad(to_hex((random() * 1099511627775)::bigint), 10, '0')",
    "sqlite": "%s || printf('%%010x', a.id) || lower(hex(randomblob(5)))",
}


def hold_book(workspace_id: int, *, exclusive: bool = False) -> None:
    """Until the transaction ends, keeps launches (shared) and erasures (exclusive) of the
    workspace apart. A snapshot reads contacts without locking them (a million rows), and an
    erasure's UPDATE of the number's messages cannot see a launch's uncommitted ones: an
    erasure that committed during a launch left a pending message to the erased number
    (review r23). Each takes it first in its transaction, before any row lock, so neither
    waits for the other while holding one. SQLite has one writer at a time already."""
    if connection.vendor != "postgresql":
        return
    take = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {take}(%s, %s)", [BOOK_LOCK, workspace_id])


def snapshot(campaign: Campaign) -> int:
    """Copies the audience as it is now into pending messages, in one statement; returns how
    many. Call it inside the launch's transaction, which took ``hold_book`` first: a failed
    launch then leaves nothing, and no erasure commits between its read and its commit.

    The campaign's own numbers (a file's, beside the audience) are read once into a
    materialised table before the insert: an anti-join probing campaigns_message while the
    statement inserts into it walks every new (invisible) index entry on each probe, which made
    200,000 contacts take minutes. Without such numbers there is nothing to leave out.
    """
    audience = contacts(campaign, in_file=False)
    audience = audience.values("id", "phone", "country", "name", "language", "fields", "time_zone")
    try:
        select, params = audience.query.sql_with_params()
    except EmptyResultSet:  # no list or segment chosen
        return 0
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    table = Message._meta.db_table
    held, held_params = "", []
    if Message.objects.filter(campaign_id=campaign.pk).exists():
        held = f"WITH held AS MATERIALIZED (SELECT phone FROM {table} WHERE campaign_id = %s) "
        held_params = [campaign.pk]
        select = f"SELECT * FROM ({select}) b WHERE NOT EXISTS "
        select += "(SELECT 1 FROM held WHERE held.phone = b.phone)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, reference, phone, country, number_type, "
            "fields, status, provider_message_id, error_code, error_reason, created_at, "
            f"updated_at, time_zone) {held}"
            f"SELECT %s, {_REFERENCE[connection.vendor]}, a.phone, a.country, '', "
            f"{fields_sql('a')}, %s, '', '', '', %s, %s, a.time_zone FROM ({select}) a",
            [*held_params, campaign.pk, stamp, MessageStatus.PENDING.value, now, now, *params],
        )
        return cursor.rowcount
