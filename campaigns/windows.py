"""A campaign's sending window, "send at HH:MM local time", deadline and spread, applied in each
recipient's own time zone (core.windows holds the window itself).

A recipient's *zone key* is the contact's stored zone (copied into Message.time_zone when the
audience is fixed at launch), else the zones phonenumbers gives its number's prefix (several,
for a prefix that spans several: the key is open only when all of them are), else the
workspace's. At launch (``assign_zones``) the campaign keeps its recipients per key and the
number prefixes that decide them (``Campaign.zones``), found in one grouped query per distinct
prefix, never number by number and without rewriting a million rows: the engine's claim
(``open_now``) works out which keys are open from that short list and narrows its query to
their zones and prefixes.

Longer than 400 lines because the claim, the sleep until an opening, the expiry, the retry
offer and the launch's check all read one set of rules (zone keys against the window and the
deadline); split apart, each would derive them again.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from django.db import transaction
from django.db.models import Case, CharField, Count, Q, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from campaigns import status_events
from campaigns.models import Campaign, Message
from core import windows as core_windows
from core.statuses import CampaignStatus, MessageStatus
from core.windows import Window

DEADLINE = "deadline"
# Launched and not done: a change to the workspace's window still matters to these.
RUNNING = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)
# How far the preview looks ahead; recipients still waiting then are counted as never going.
HORIZON = timedelta(days=31)
STEP = timedelta(minutes=15)
NEVER_OPEN_RECHECK = timedelta(hours=1)
# A window with no open time this far ahead never opens: the launch refuses it.
YEAR = timedelta(days=366)


@dataclass(frozen=True)
class Rules:
    """When a recipient with a given zone key may get the campaign's message."""

    window: Window | None
    send_at: time | None
    start: datetime  # "send at" counts from here: the first such local time at or after it
    deadline: datetime | None
    fallback_zone: str

    @property
    def zoned(self) -> bool:
        """Whether the recipient's zone matters at all."""
        return self.window is not None or self.send_at is not None

    def is_open(self, key: str, at: datetime) -> bool:
        if self.send_at is not None and at < self.not_before(key):
            return False
        return self.window is None or self.window.is_open(key, at)

    def next_opening(self, key: str, after: datetime) -> datetime | None:
        """The first instant at or after ``after`` when ``key`` may get messages, or None."""
        if self.send_at is not None:
            after = max(after, self.not_before(key))
        if self.window is None:
            return after
        return self.window.next_opening(key, after)

    def not_before(self, key: str) -> datetime:
        """ "Send at HH:MM local time": the first such time after the start in every zone of
        ``key``."""
        return max(_first_local(self.send_at, name, self.start) for name in key.split())


def _first_local(at: time, name: str, start: datetime) -> datetime:
    zone = core_windows.tz(name)
    day = start.astimezone(zone).date()
    for offset in (0, 1, 2):
        local = datetime.combine(day + timedelta(days=offset), at, tzinfo=zone)
        instant = local.astimezone(UTC)  # a time the clocks skip maps to an hour later
        if instant >= start:
            return instant
    raise AssertionError("unreachable: a local time recurs every day")


def rules_for(campaign: Campaign, start: datetime | None = None) -> Rules:
    """The campaign's rules; its own window, else its workspace's (with its holidays). The
    window's text was checked when saved (forms), so it parses."""
    workspace = campaign.workspace
    text = campaign.send_window or workspace.send_window
    return Rules(
        window=core_windows.parse(text, workspace.holidays),
        send_at=campaign.send_at_local,
        start=start or campaign.start_at or campaign.launched_at or timezone.now(),
        deadline=campaign.deadline,
        fallback_zone=workspace.time_zone,
    )


# --- Zones of numbers ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _prefix_table() -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """phonenumbers' prefix -> zones table, and per calling code the longest prefix in it."""
    import phonenumbers
    from phonenumbers import tzdata

    longest: dict[str, int] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        code = str(phonenumbers.country_code_for_region(region))
        digits = max((len(k) for k in tzdata.TIMEZONE_DATA if k.startswith(code)), default=0)
        longest[region] = max(digits, len(code))
    return tzdata.TIMEZONE_DATA, longest


def zones_of_prefix(prefix: str) -> tuple[str, str]:
    """(the longest prefix phonenumbers knows of ``prefix``, with "+"; its zone key) —
    ("+7301", "Asia/Irkutsk") for "+73012"; ("", "") when it knows none."""
    table, _longest = _prefix_table()
    digits = prefix.lstrip("+")
    for end in range(len(digits), 0, -1):
        if found := table.get(digits[:end]):
            known = sorted(z for z in found if core_windows.is_zone(z))
            return "+" + digits[:end], " ".join(known)
    return "", ""


def _prefix_expression(countries: list[str]):
    """SQL for the part of a number that decides its zones: the calling code and as many
    digits as phonenumbers' longest prefix of that country (at most 10 characters)."""
    _table, longest = _prefix_table()
    whens = [
        When(country=country, then=Substr("phone", 1, longest[country] + 1))
        for country in countries
        if country in longest
    ]
    return Case(*whens, default=Substr("phone", 1, 10), output_field=CharField())


def zone_counts(recipients, fallback_zone: str) -> tuple[Counter, dict[str, str]]:
    """Recipients per zone key among ``recipients`` (a queryset of rows with ``phone``,
    ``country`` and ``time_zone``, messages or contacts), in one grouped query; and, for the
    numbers without a zone of their own, the prefixes that decide their keys (prefix -> key)."""
    countries = list(recipients.order_by().values_list("country", flat=True).distinct())
    prefix = Case(
        When(~Q(time_zone=""), then=Value("")),
        default=_prefix_expression(countries),
        output_field=CharField(),
    )
    groups = (
        recipients.order_by()
        .annotate(prefix=prefix)
        .values_list("time_zone", "prefix")
        .annotate(n=Count("pk"))
    )
    counts: Counter = Counter()
    prefixes: dict[str, str] = {}
    for zone, number_prefix, n in groups:
        if zone:
            counts[zone] += n
            continue
        known, key = zones_of_prefix(number_prefix)
        key = key or fallback_zone
        counts[key] += n
        prefixes[known or number_prefix] = key
    return counts, prefixes


def assign_zones(campaign: Campaign, statuses=(MessageStatus.PENDING,)) -> dict[str, int]:
    """Keeps on the campaign its recipients in ``statuses`` (pending: not sent yet) per zone
    key and the number prefixes that decide them; nothing when no window or local time
    applies. Returns the counts."""
    rules = rules_for(campaign)
    if not rules.zoned:
        return {}
    pending = Message.objects.filter(campaign=campaign, status__in=statuses)
    counts, prefixes = zone_counts(pending, rules.fallback_zone)
    campaign.zones = {"counts": dict(counts), "prefixes": prefixes}
    Campaign.objects.filter(pk=campaign.pk).update(zones=campaign.zones)
    return dict(counts)


def zone_keys(campaign: Campaign) -> dict[str, int]:
    """The campaign's recipients per zone key, as fixed at launch ({} without a window)."""
    return (campaign.zones or {}).get("counts", {})


def _in_zones(campaign: Campaign, open_keys: set[str]) -> Q:
    """Messages whose zone key is one of ``open_keys``: a contact's stored zone, else the
    longest of the campaign's prefixes its number starts with."""
    prefixes = campaign.zones.get("prefixes", {})
    by_number = Q(pk__in=[])
    for prefix, key in prefixes.items():
        if key not in open_keys:
            continue
        starts = Q(phone__startswith=prefix)
        for longer, other in prefixes.items():  # a longer prefix decides its own numbers
            if other not in open_keys and len(longer) > len(prefix) and longer.startswith(prefix):
                starts &= ~Q(phone__startswith=longer)
        by_number |= starts
    return Q(time_zone__in=open_keys) | (Q(time_zone="") & by_number)


# --- The engine's side -----------------------------------------------------------------------


def open_now(campaign: Campaign, pending, now: datetime | None = None):
    """The engine's claim narrowed to what may go now: pending messages whose zone is open
    (all of them when no window applies). Past the deadline, every pending message expires
    and nothing is left."""
    now = now or timezone.now()
    if campaign.deadline and now >= campaign.deadline:
        expire_late(campaign)
        return pending.none()
    keys = zone_keys(campaign)
    if not keys:  # no window or local time applied at launch: nothing to read
        return pending
    rules = rules_for(campaign)
    open_keys = {key for key in keys if rules.is_open(key, now)}
    if len(open_keys) == len(keys):
        return pending
    return pending.filter(_in_zones(campaign, open_keys))


def wait_for_window(campaign: Campaign, now: datetime | None = None) -> datetime | None:
    """Nothing could be claimed: when the messages still waiting for their windows may go (or
    the deadline, if sooner), saved as the campaign's ``next_attempt_at`` so beat leaves it
    alone until then. None when nothing waits for a window.

    A key whose zones never share an open hour (a prefix spanning zones far apart, under a
    short window) never opens: its messages wait, looked at again every NEVER_OPEN_RECHECK
    (a changed window may open it), until the deadline expires them or a person stops them.
    The preview counts them before launch."""
    if not zone_keys(campaign):
        return None
    now = now or timezone.now()
    waiting = next_opening(campaign, now)
    if waiting is None:
        if not never_open(campaign, now):
            return None
        waiting = (now + NEVER_OPEN_RECHECK, "")
    when = waiting[0]
    if campaign.deadline:
        when = min(when, campaign.deadline)
    Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=when)
    return when


def never_open(campaign: Campaign, now: datetime) -> list[str]:
    """The campaign's zone keys that are closed now and never open again."""
    rules = rules_for(campaign)
    if not rules.zoned:
        return []
    keys = zone_keys(campaign)
    return [k for k in keys if not rules.is_open(k, now) and rules.next_opening(k, now) is None]


def next_opening(campaign: Campaign, now: datetime) -> tuple[datetime, str] | None:
    """(when, zone key) of the next window to open among the campaign's zones closed now;
    None when no window applies or none opens again."""
    rules = rules_for(campaign)
    if not rules.zoned:
        return None
    found = [
        (when, key)
        for key in zone_keys(campaign)
        if not rules.is_open(key, now) and (when := rules.next_opening(key, now))
    ]
    return min(found) if found else None


def too_late(campaign: Campaign, messages, now: datetime | None = None):
    """Of ``messages``, those the deadline would expire unsent were they pending again: every
    one once it has passed; before it, those whose zone is closed now and opens again only
    after it, or never (the retry offer leaves them out)."""
    now = now or timezone.now()
    if not campaign.deadline:
        return messages.none()
    if now >= campaign.deadline:
        return messages
    rules = rules_for(campaign)
    late = {
        key
        for key in zone_keys(campaign)
        if not rules.is_open(key, now)
        and ((when := rules.next_opening(key, now)) is None or when >= campaign.deadline)
    }
    return messages.filter(_in_zones(campaign, late)) if late else messages.none()


def never_opens(campaign: Campaign, keys=None) -> str:
    """Why the launch is refused when the campaign's window has no open time in the next
    YEAR for any of ``keys`` (its zone keys; default: its workspace's zone), so that it would
    wait for ever ("" when it opens): no day at all, or every day a holiday."""
    rules = rules_for(campaign)
    if rules.window is None:
        return ""
    keys = list(keys or [rules.fallback_zone])
    if any(rules.window.opens_within(key, rules.start, YEAR.days) for key in keys):
        return ""
    text = campaign.send_window or campaign.workspace.send_window
    whose = "" if campaign.send_window else "the workspace's "
    return (
        f"Step 4, Sending window: {whose}“{text.strip()}” never opens in the next "
        f"{YEAR.days} days (no day is open, or every open day is a holiday): change the window "
        "or the workspace's holidays."
    )


def deadline_text(campaign: Campaign) -> str:
    """The deadline in the workspace's zone, as the pages and messages say it."""
    return _deadline(campaign)


def expire_late(campaign: Campaign) -> int:
    """Past the deadline: the pending messages expire here, never sent late. Returns how
    many."""
    pending = Message.objects.filter(campaign=campaign, status=MessageStatus.PENDING)
    return expire(campaign, pending)


def expire(campaign: Campaign, messages) -> int:
    """``messages`` expire unsent: status ``cancelled`` (Crier's "stopped before it was
    submitted"; ``expired`` is the provider's word for a message it had and gave up on, and
    counts as handed over), error code ``deadline``."""
    with transaction.atomic():
        return status_events.update(
            campaign.workspace_id,
            messages,
            status=MessageStatus.CANCELLED,
            error_code=DEADLINE,
            error_reason=(
                "Expired unsent: not handed over before the campaign's deadline, "
                f"{_deadline(campaign)}."
            ),
            updated_at=timezone.now(),
        )


def _deadline(campaign: Campaign) -> str:
    workspace = campaign.workspace
    return f"{campaign.deadline.astimezone(workspace.zone):%Y-%m-%d %H:%M} ({workspace.time_zone})"


def past_deadline(campaign: Campaign, now: datetime | None = None) -> bool:
    return bool(campaign.deadline) and (now or timezone.now()) >= campaign.deadline


def audit_fields(campaign: Campaign, zones: dict[str, int]) -> dict:
    """What the launch's audit entry records of the campaign's timing rules (only those set)."""
    fields = {
        "send_window": campaign.send_window or campaign.workspace.send_window,
        "send_at_local": campaign.send_at_local,
        "deadline": campaign.deadline,
        "spread_hours": campaign.spread_hours,
        "time_zones": len(zones),
    }
    return {name: value for name, value in fields.items() if value}


def spread_rate(recipients: int, hours: int) -> int:
    """Messages an hour that send ``recipients`` over ``hours`` of open window."""
    return max(1, math.ceil(recipients / hours))


# --- The preview's plan ----------------------------------------------------------------------


@dataclass
class Plan:
    """What the preview shows: recipients per local hour of day (in their own zones), when the
    last one goes, and who cannot go."""

    per_hour: list[int] = field(default_factory=lambda: [0] * 24)
    last_at: datetime | None = None
    expired: int = 0  # still waiting at the deadline
    never: int = 0  # their window does not open within HORIZON
    several_zones: int = 0  # keyed by a prefix that spans several zones (the intersection)
    zones: int = 0

    @property
    def hours(self) -> list[tuple[int, int]]:
        return [(hour, n) for hour, n in enumerate(self.per_hour) if n]


def plan(rules: Rules, counts: dict[str, int], per_hour: int | None) -> Plan:
    """Simulates sending ``counts`` (recipients per zone key) from ``rules.start`` at
    ``per_hour`` messages an hour (None: as fast as the provider takes them, counted as
    immediate), in 15-minute steps, each step shared among the open zones by what they have
    left, as the claim takes messages in order."""
    result = Plan(zones=len(counts))
    result.several_zones = sum(n for key, n in counts.items() if len(key.split()) > 1)
    left = {key: n for key, n in counts.items() if n}
    at, end = rules.start, rules.start + HORIZON
    capacity = math.inf if not per_hour else per_hour * STEP.total_seconds() / 3600
    carry = 0.0
    while left and at < end:
        if rules.deadline and at >= rules.deadline:
            break
        open_keys = [key for key in left if not rules.zoned or rules.is_open(key, at)]
        if not open_keys:
            upcoming = [w for key in left if (w := rules.next_opening(key, at))]
            if not upcoming:
                break
            at = max(min(upcoming), at + timedelta(seconds=1))
            continue
        budget = capacity + carry
        total = sum(left[key] for key in open_keys)
        shares = {key: left[key] for key in open_keys}
        if budget < total:  # shared by what each has left; the units rounding leaves, in turn
            shares = {key: int(budget * left[key] / total) for key in open_keys}
            spare = int(budget) - sum(shares.values())
            for key in open_keys[:spare]:
                shares[key] += 1
        sent_total = 0
        for key, share in shares.items():
            share = min(share, left[key])
            if not share:
                continue
            hour = at.astimezone(core_windows.tz(key.split()[0] or "UTC")).hour
            result.per_hour[hour] += share
            left[key] -= share
            sent_total += share
            if not left[key]:
                del left[key]
        carry = budget - sent_total if budget != math.inf else 0.0
        if sent_total:
            fraction = 1.0 if budget == math.inf else min(1.0, sent_total / max(capacity, 1))
            result.last_at = at if capacity == math.inf else at + STEP * fraction
        at += STEP
    remaining = sum(left.values())
    if rules.deadline and at >= rules.deadline:
        result.expired = remaining
    else:
        result.never = remaining
    return result
