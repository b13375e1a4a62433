"""Sending windows (core.windows): reading them, and opening and closing in a zone, across a
DST change and for keys of several zones."""

from datetime import UTC, date, datetime

import pytest

from core.windows import WindowError, describe, parse

WEEK = "Mon-Fri 09:00-20:00; Sat 10:00-18:00"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekdays_and_saturday_in_the_recipients_zone():
    window = parse(WEEK)
    # Monday 2026-12-07 03:59 UTC is 08:59 in Almaty (UTC+5) and 06:59 in Moscow.
    assert not window.is_open("Asia/Almaty", utc(2026, 12, 7, 3, 59))
    assert window.is_open("Asia/Almaty", utc(2026, 12, 7, 4, 0))
    assert not window.is_open("Europe/Moscow", utc(2026, 12, 7, 4, 0))
    assert window.is_open("Europe/Moscow", utc(2026, 12, 7, 6, 0))
    # Saturday opens at 10:00 and closes at 18:00; Sunday stays closed.
    assert not window.is_open("Asia/Almaty", utc(2026, 12, 12, 4, 30))
    assert window.is_open("Asia/Almaty", utc(2026, 12, 12, 5, 0))
    assert not window.is_open("Asia/Almaty", utc(2026, 12, 12, 13, 0))
    assert not window.is_open("Asia/Almaty", utc(2026, 12, 13, 8, 0))


def test_next_opening_skips_sunday_and_holidays():
    window = parse(WEEK, "2026-12-14")
    saturday_night = utc(2026, 12, 12, 14, 0)  # 19:00 in Almaty, closed
    # Sunday is closed and Monday the 14th a holiday: Tuesday 09:00 local.
    assert window.next_opening("Asia/Almaty", saturday_night) == utc(2026, 12, 15, 4, 0)
    assert window.holidays == frozenset({date(2026, 12, 14)})


def test_an_open_zone_opens_now():
    window = parse(WEEK)
    now = utc(2026, 12, 7, 10, 0)
    assert window.next_opening("Asia/Almaty", now) == now


def test_spring_forward_keeps_the_local_hours():
    window = parse("Mon-Sun 09:00-20:00")
    # Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29: 09:00 is 08:00 UTC on Saturday
    # and 07:00 UTC on Sunday.
    assert window.next_opening("Europe/Berlin", utc(2026, 3, 27, 20, 0)) == utc(2026, 3, 28, 8)
    assert window.next_opening("Europe/Berlin", utc(2026, 3, 28, 20, 0)) == utc(2026, 3, 29, 7)
    assert not window.is_open("Europe/Berlin", utc(2026, 3, 29, 6, 59))
    assert window.is_open("Europe/Berlin", utc(2026, 3, 29, 7, 0))
    assert not window.is_open("Europe/Berlin", utc(2026, 3, 29, 18, 0))  # 20:00 CEST


def test_fall_back_keeps_the_local_hours():
    window = parse("Mon-Sun 09:00-20:00")
    # Back to UTC+1 on Sunday 2026-10-25: 20:00 local is 19:00 UTC that evening.
    assert window.is_open("Europe/Berlin", utc(2026, 10, 25, 18, 59))
    assert not window.is_open("Europe/Berlin", utc(2026, 10, 25, 19, 0))
    assert not window.is_open("Europe/Berlin", utc(2026, 10, 24, 18, 0))


def test_a_start_the_clocks_skip_opens_after_the_change_never_before():
    window = parse("Sun 02:30-05:00")
    opening = window.next_opening("Europe/Berlin", utc(2026, 3, 28, 22, 0))
    assert opening is not None and window.is_open("Europe/Berlin", opening)
    assert opening >= utc(2026, 3, 29, 1, 0)  # 03:00 CEST: there was no 02:30 that night


def test_several_zones_open_only_together():
    window = parse("Mon-Sun 09:00-20:00")
    both = "Asia/Almaty Europe/Moscow"  # Moscow is two hours behind
    assert not window.is_open(both, utc(2026, 12, 7, 5, 0))  # 10:00 Almaty, 08:00 Moscow
    assert window.next_opening(both, utc(2026, 12, 7, 5, 0)) == utc(2026, 12, 7, 6, 0)
    assert not window.is_open(both, utc(2026, 12, 7, 15, 0))  # 20:00 Almaty


def test_zones_that_never_open_together_never_open():
    window = parse("Mon-Sun 09:00-12:00")
    assert window.next_opening("Asia/Kamchatka Europe/Kaliningrad", utc(2026, 12, 7)) is None


def test_always_and_empty():
    assert parse("") is None
    assert parse("always").is_open("Asia/Almaty", utc(2026, 12, 13, 23, 0))
    assert describe(parse(WEEK)) == "Mon-Fri 09:00-20:00; Sat 10:00-18:00"


@pytest.mark.parametrize(
    ("text", "holidays", "message"),
    [
        ("weekdays 9-5", "", "“weekdays 9-5” is not a rule like"),
        ("Mon-Fri 20:00-09:00", "", "the end must be after the start"),
        ("Mon-Fri 09:00-25:00", "", "25:00 is not a time of day"),
        ("Mon-Fro 09:00-17:00", "", "“fro” is not a day"),
        ("Fri-Mon 09:00-17:00", "", "from Monday towards Sunday"),
        ("Mon 09:00-17:00", "2026-13-01", "“2026-13-01” is not a date"),
    ],
)
def test_bad_windows_say_what_to_fix(text, holidays, message):
    with pytest.raises(WindowError, match=message):
        parse(text, holidays)
