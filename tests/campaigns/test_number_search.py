"""The number search of a campaign's recipients (campaigns.pages.number_search): a whole number
in any format finds exactly that number; part of one finds the numbers holding its digits.
Acme's default country is Kazakhstan (+7, trunk prefix 8)."""

from __future__ import annotations

import pytest

from campaigns.contact_history import erased_phone
from campaigns.models import Message
from campaigns.pages.queries import RecipientFilter

NUMBERS = [
    "+77011234567",
    "+77014567123",  # holds 4567 and 123 in the middle
    "+77771234567",  # the same last seven digits as the first
    "+977011234567",  # Nepal: holds the first number's digits after a 9
    "+79990001122",
    "+447400123456",
]


@pytest.fixture
def campaign(acme):
    Message.objects.bulk_create(
        Message(campaign=acme.campaign, phone=phone, status=status)
        for phone, status in zip(NUMBERS, ["delivered", "failed"] * 3, strict=True)
    )
    return acme.campaign


def found(campaign, typed: str, status: str = "") -> list[str]:
    chosen = RecipientFilter.from_query({"q": typed, "status": status})
    return list(chosen.apply(campaign).values_list("phone", flat=True))


@pytest.mark.parametrize(
    "typed",
    [
        "+7 701 123-45-67",
        "8 (701) 1234567",
        "87011234567",
        "77011234567",
        "7011234567",
        "+7 (701) 123 45 67",
        "+77011234567",
    ],
)
def test_a_whole_number_in_any_format_finds_that_number_alone(campaign, typed):
    assert found(campaign, typed) == ["+77011234567"]


def test_a_whole_number_of_another_country_typed_internationally(campaign):
    assert found(campaign, "+44 7400 123456") == ["+447400123456"]
    assert found(campaign, "00 44 7400 123456") == ["+447400123456"]


@pytest.mark.parametrize("typed", ["1234567", "123-45-67"])
def test_the_last_digits_find_every_number_ending_with_them(campaign, typed):
    assert found(campaign, typed) == ["+77011234567", "+77771234567", "+977011234567"]


@pytest.mark.parametrize("typed", ["701 123", "(701) 12"])
def test_the_first_digits_of_a_national_number_find_the_numbers_holding_them(campaign, typed):
    assert found(campaign, typed) == ["+77011234567", "+977011234567"]


def test_the_first_digits_typed_with_a_plus_find_the_numbers_starting_with_them(campaign):
    assert found(campaign, "+7 701 12") == ["+77011234567"]


def test_digits_from_the_middle_of_a_number_find_it_too(campaign):
    assert found(campaign, "4567") == [
        "+77011234567",
        "+77014567123",
        "+77771234567",
        "+977011234567",
    ]


def test_digits_typed_after_a_plus_must_start_the_number(campaign):
    assert found(campaign, "+4567") == []
    assert found(campaign, "+44 7400") == ["+447400123456"]


def test_the_search_keeps_the_status_filter(campaign):
    assert found(campaign, "1234567", status="delivered") == ["+77011234567", "+77771234567"]
    assert found(campaign, "1234567", status="failed") == ["+977011234567"]


def test_an_erased_number_is_found_by_nothing_it_held(campaign):
    Message.objects.filter(phone="+79990001122").update(phone=erased_phone("+79990001122"))

    assert found(campaign, "+7 999 000 11 22") == []
    assert found(campaign, "1122") == []


def test_an_erased_numbers_stand_in_is_not_a_number_to_find(campaign):
    """Its hex digits may all be decimal ones, and end as a number does."""
    Message.objects.filter(phone="+79990001122").update(phone="erased:123456789")

    assert found(campaign, "3456789") == []


def test_a_search_without_digits_is_no_search(campaign):
    assert RecipientFilter.from_query({"q": "abc"}).search == ""
    assert len(found(campaign, "abc")) == len(NUMBERS)


def test_only_the_campaigns_own_messages_are_found(campaign, acme):
    other = type(campaign).objects.create(workspace=acme.workspace, name="Other", text="Hi")
    Message.objects.create(campaign=other, phone="+77019994567")
    Message.objects.create(campaign=other, phone="+77011234567")

    assert found(campaign, "994567") == []
    assert found(campaign, "+7 701 123 45 67") == ["+77011234567"]
