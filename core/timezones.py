"""Times people type, read in the workspace's time zone (the middleware shows them in it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

MINUTE = timedelta(minutes=1)


def labelled(value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime in the active time zone (the workspace's), labelled with it:
    "2026-12-06 13:52 (Asia/Almaty)"."""
    return f"{timezone.localtime(value):{fmt}} ({timezone.get_current_timezone_name()})"


class ZonedDateTimeField(forms.DateTimeField):
    """A wall-clock date and time in ``zone``, cleaned to an aware datetime and shown back in it.

    A time the clocks skip (spring forward) or pass twice (fall back) is refused with a message
    that names the field and the times around the change, never guessed. The form calls
    ``set_zone`` with the workspace's zone; until then it is UTC.
    """

    zone: tzinfo = UTC

    def set_zone(self, zone: tzinfo) -> None:
        self.zone = zone
        self.help_text = f"{self.help_text} In the workspace’s time zone, {zone}.".strip()  # noqa: RUF001 - typographic

    def prepare_value(self, value):
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value.astimezone(self.zone).replace(tzinfo=None)
        return value

    def to_python(self, value):
        with timezone.override(self.zone):
            try:
                return super().to_python(value)
            except ValidationError as error:
                if error.code != "ambiguous_timezone":
                    raise
                naive = error.params["datetime"]
                raise ValidationError(
                    f"{self.label}: {clock_change(naive, self.zone)}", code="clock_change"
                ) from error


def clock_change(naive: datetime, zone: tzinfo) -> str:
    """Why ``naive``, a local time the clocks skip or repeat in ``zone``, cannot be used."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    # zoneinfo gives fold=0 the offset in force before the change, fold=1 the one after it.
    forward = first.utcoffset() < second.utcoffset()
    shift = abs(second.utcoffset() - first.utcoffset())
    start, end = naive, naive + MINUTE
    while _odd(start - MINUTE, zone):
        start -= MINUTE
    while _odd(end, zone):
        end += MINUTE
    amount = "an hour" if shift == timedelta(hours=1) else f"{shift.seconds // 60} minutes"
    return (
        f"{naive:%H:%M} on {naive.day} {naive:%B %Y} "
        + (f"does not exist in {zone}" if forward else f"happens twice in {zone}")
        + f": the clocks go {'forward' if forward else 'back'} {amount} that day. "
        f"Choose a time before {start:%H:%M} or from {end:%H:%M}."
    )


def _odd(naive: datetime, zone: tzinfo) -> bool:
    """True when the clocks skip or repeat ``naive`` in ``zone``."""
    return naive.replace(tzinfo=zone, fold=0).utcoffset() != (
        naive.replace(tzinfo=zone, fold=1).utcoffset()
    )
