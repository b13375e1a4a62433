"""Sending windows: the weekly hours (and holiday dates) in which messages may go, read in a
recipient's own time zone, DST-correct through zoneinfo.

A window is written as text, one rule per line or separated by ";":
``Mon-Fri 09:00-20:00; Sat 10:00-18:00`` (days not named are closed), and holidays as ISO dates
(``2026-12-31, 2027-01-07``). ``always`` is every day, all day. A *zone key* is one IANA zone
("Asia/Almaty") or several separated by spaces, for a number whose prefix spans several zones:
such a key is open only when every one of its zones is (the intersection of their windows).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
_RULE = re.compile(
    r"^(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


class WindowError(ValueError):
    """A window or holiday list that cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class Window:
    """Open intervals per weekday (Monday first), in minutes from local midnight, and the
    holiday dates on which it stays closed all day."""

    days: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()

    def is_open(self, zone: str, at: datetime) -> bool:
        """Whether a recipient in ``zone`` (a zone key) may get a message at ``at``."""
        return all(self._open_in(name, at) for name in zone_names(zone))

    def next_opening(self, zone: str, after: datetime) -> datetime | None:
        """The first instant at or after ``after`` when ``zone`` (a key) is open; None when it
        never opens (no day open, or the zones of a key never open together)."""
        if self.is_open(zone, after):
            return after
        starts = sorted(s for name in zone_names(zone) for s in self._starts(name, after))
        starts = [start for start in starts if start > after]
        return next((start for start in starts if self.is_open(zone, start)), None)

    def opens_within(self, zone: str, after: datetime, days: int) -> bool:
        """Whether ``zone`` (a key) is open at some instant of the ``days`` days from
        ``after``, whatever the holidays (stopping at the first opening)."""
        if self.is_open(zone, after):
            return True
        end = after + timedelta(days=days)
        return any(
            after < start <= end and self.is_open(zone, start)
            for name in zone_names(zone)
            for start in self._starts(name, after, days + 1)
        )

    def _open_in(self, name: str, at: datetime) -> bool:
        local = at.astimezone(tz(name))
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.days[local.weekday()])

    def _starts(self, name: str, after: datetime, days: int | None = None):
        """Each interval's opening instant in zone ``name`` over ``days`` days (default: the
        coming week and as many more days as there are holidays). A start the clocks skip
        (spring forward) maps to the same wall time after the change (zoneinfo's reading):
        late, never outside the window."""
        zone = tz(name)
        first = after.astimezone(zone).date()
        for offset in range(days or 8 + len(self.holidays)):
            day = first + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in self.days[day.weekday()]:
                local = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
                yield local.astimezone(UTC).astimezone(zone)


ALWAYS = Window(days=(((0, DAY_MINUTES),),) * 7)


@lru_cache(maxsize=512)
def tz(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def zone_names(key: str) -> list[str]:
    return key.split()


def is_zone(name: str) -> bool:
    try:
        tz(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse(text: str, holidays: str = "") -> Window | None:
    """The window written in ``text`` (None when empty: no window, send any time) with the
    ``holidays``; raises WindowError naming the rule that cannot be read."""
    text = text.strip()
    if not text:
        return None
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    rules = [rule.strip() for rule in re.split(r"[;\n]", text) if rule.strip()]
    if [rule.lower() for rule in rules] == ["always"]:
        return Window(days=ALWAYS.days, holidays=parse_holidays(holidays))
    for rule in rules:
        match = _RULE.match(rule.lower())
        if not match:
            raise WindowError(
                f"“{rule}” is not a rule like “Mon-Fri 09:00-20:00” (days, then from-to)."
            )
        start, end = _minute(match["start"], rule), _minute(match["end"], rule)
        if end <= start:
            raise WindowError(f"“{rule}”: the end must be after the start (the same day).")
        for day in _days(match["days"], rule):
            days[day].append((start, end))
    return Window(
        days=tuple(tuple(sorted(intervals)) for intervals in days),
        holidays=parse_holidays(holidays),
    )


def _minute(text: str, rule: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise WindowError(f"“{rule}”: {text} is not a time of day (00:00 to 24:00).")
    return hours * 60 + minutes


def _days(text: str, rule: str) -> list[int]:
    found: list[int] = []
    for part in re.split(r"\s*,\s*", text):
        ends = [end.strip() for end in part.split("-")]
        for end in ends:
            if end not in DAYS:
                raise WindowError(f"“{rule}”: “{end}” is not a day (Mon, Tue … Sun).")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        if last < first:
            raise WindowError(f"“{rule}”: write a range from Monday towards Sunday.")
        found += range(first, last + 1)
    return found


def parse_holidays(text: str) -> frozenset[date]:
    """Dates written as YYYY-MM-DD, separated by commas, spaces or lines."""
    found = set()
    for word in re.split(r"[\s,;]+", text.strip()):
        if not word:
            continue
        try:
            found.add(date.fromisoformat(word))
        except ValueError:
            raise WindowError(f"“{word}” is not a date written as YYYY-MM-DD.") from None
    return frozenset(found)


def describe(window: Window | None) -> str:
    """The window in the words it is written in ("Mon-Fri 09:00-20:00; Sat 10:00-18:00")."""
    if window is None:
        return "any time"
    rules: dict[tuple, list[int]] = {}
    for day, intervals in enumerate(window.days):
        if intervals:
            rules.setdefault(intervals, []).append(day)
    parts = []
    for intervals, days in rules.items():
        label = _day_label(days)
        hours = ", ".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in intervals)
        parts.append(f"{label} {hours}")
    return "; ".join(parts) or "never"


def _day_label(days: list[int]) -> str:
    names = [d.capitalize() for d in DAYS]
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{names[days[0]]}-{names[days[-1]]}"
    return ",".join(names[d] for d in days)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
