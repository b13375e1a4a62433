"""Cells as typed field values, and the zone of a number as core.phones would give it."""

from __future__ import annotations

import random

import pytest

from contacts import values
from core import phones


@pytest.mark.parametrize(
    ("cell", "value"),
    [("42", 42), ("-3", -3), ("1,5", 1.5), ("1 234,5", 1234.5), ("2.50", 2.5), ("1e3", 1000)],
)
def test_numbers_in_common_spellings_become_json_numbers(cell, value):
    assert values.number(cell, "Age") == value


@pytest.mark.parametrize("cell", ["abc", "nan", "inf", "1.2.3", "12 years"])
def test_a_non_number_names_the_value_and_the_field(cell):
    with pytest.raises(values.BadValue, match=f"“{cell}” is not a number for Age."):
        values.number(cell, "Age")


@pytest.mark.parametrize(
    "cell", ["2024-12-31", "31.12.2024", "31/12/2024", "2024/12/31", "2024-12-31 00:00:00"]
)
def test_dates_in_common_formats_become_iso(cell):
    assert values.date(cell, "Born") == "2024-12-31"


def test_an_impossible_date_is_refused_with_the_formats_to_use():
    with pytest.raises(values.BadValue, match="not a date for Born; write it as 2024-12-31"):
        values.date("2024-02-30", "Born")


def test_a_choice_matches_whatever_its_case_and_is_stored_as_defined():
    convert = values.choice(["Basic", "Pro"])
    assert convert("PRO", "Plan") == "Pro"
    with pytest.raises(values.BadValue, match="not one of the choices for Plan: Basic, Pro"):
        convert("Gold", "Plan")


def test_text_is_capped():
    assert len(values.text("x" * 1000, "Note")) == values.TEXT_LIMIT


@pytest.mark.parametrize(
    ("cell", "out"), [("yes", True), ("X", True), ("0", False), ("нет", False)]
)
def test_opt_out_cells_say_yes_or_no(cell, out):
    assert values.opted_out(cell, "Unsubscribed") is out


def test_an_unclear_opt_out_is_refused_rather_than_guessed():
    with pytest.raises(values.BadValue, match="neither yes nor no for Unsubscribed"):
        values.opted_out("maybe", "Unsubscribed")


def test_zones_match_core_phones_for_every_kind_of_number():
    rng = random.Random(7)
    prefixes = ["+7701", "+7727", "+7912", "+7495", "+551199", "+99890", "+447400", "+12122"]
    numbers = [
        rng.choice(prefixes) + "".join(rng.choices("0123456789", k=7)) for _ in range(3_000)
    ] + [
        "+77172123456",  # a Kazakh landline: one zone
        "+12015550123",  # a US number with a single zone
        "+18005550199",  # toll free: the country's zones
        "+5511912345678",  # a Brazilian mobile: geographic
        "+8613812345678",
        "+4915112345678",
        "+80012345678",  # non-geographic
    ]
    zones = values.Zones()
    checked = 0
    for raw in numbers:
        found = phones.normalise(raw, "KZ")
        if isinstance(found, phones.Normalised):
            expected = phones.single_time_zone(found.e164)
            assert zones(found.e164, found.region, found.type) == expected, found
            checked += 1
    assert checked > 2_000
