"""The number search of a campaign's recipients (campaigns.pages.number_search): a whole number
typed with a plus, 00 or the trunk prefix finds exactly that number; other digits find the
numbers holding them, and the start of a number typed nationally or after 00 the numbers
starting so. Acme's default country is Kazakhstan (+7, trunk prefix 8)."""

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
        "00 7 701 123 45 67",
        "+7 (701) 123 45 67",
        "+77011234567",
    ],
)
def test_a_whole_number_typed_with_a_plus_00_or_the_trunk_prefix_finds_it_alone(campaign, typed):
    assert found(campaign, typed) == ["+77011234567"]


@pytest.mark.parametrize("typed", ["77011234567", "7011234567"])
def test_a_whole_number_typed_without_them_also_finds_the_numbers_holding_it(campaign, typed):
    """Bare digits may be part of another country's number (as on main)."""
    assert found(campaign, typed) == ["+77011234567", "+977011234567"]


@pytest.mark.parametrize(
    ("country", "stored", "typed"),
    [
        ("GB", "+77011234567", "7011234567"),  # KZ without +7; in GB a valid 070 number
        ("DE", "+4930123456789", "30123456"),  # a fragment that is a valid Berlin number
        ("NO", "+4591234567", "91234567"),  # a Danish number; 8 digits valid in Norway
    ],
)
def test_digits_valid_in_the_default_country_still_find_other_numbers_holding_them(
    acme, country, stored, typed
):
    """Found by review: they found only the number of the default country they could be."""
    acme.workspace.default_country = country
    acme.workspace.save(update_fields=["default_country"])
    Message.objects.create(campaign=acme.campaign, phone=stored, status="delivered")

    assert found(acme.campaign, typed) == [stored]


def test_digits_valid_in_the_default_country_find_that_number_and_the_others(acme):
    acme.workspace.default_country = "GB"
    acme.workspace.save(update_fields=["default_country"])
    for phone in ["+77011234567", "+447011234567"]:
        Message.objects.create(campaign=acme.campaign, phone=phone, status="delivered")

    assert found(acme.campaign, "7011234567") == ["+77011234567", "+447011234567"]


def test_a_whole_number_typed_with_a_plus_finds_the_longer_ones_starting_with_it(acme):
    """German numbers vary in length: +49 30 123456 is a number and starts another."""
    for phone in ["+4930123456789", "+4930123456"]:
        Message.objects.create(campaign=acme.campaign, phone=phone, status="delivered")

    assert found(acme.campaign, "+49 30 123456") == ["+4930123456789", "+4930123456"]


@pytest.mark.parametrize("typed", ["8 701 123", "8 (701) 123-45", "0077011234", "00 7 701 123"])
def test_the_start_of_a_number_typed_nationally_or_after_00_finds_it(acme, typed):
    """Found by review (on main too): as the contacts page's search (contacts.search.phone_q)
    reads them, the trunk prefix as the country code and 00 as the plus."""
    Message.objects.create(campaign=acme.campaign, phone="+77011234567", status="delivered")

    assert found(acme.campaign, typed) == ["+77011234567"]


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
