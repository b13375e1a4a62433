"""The number index (campaigns.number_index): a big campaign's numbers in a trigram-indexed side
table, filled after they are stored. The search reads it only while it is complete and finds
exactly what reading the messages finds. Acme's default country is Kazakhstan."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import contact_history, number_index, services
from campaigns.models import Message, MessageDigits, NumberIndex
from campaigns.pages import queries
from campaigns.pages.queries import RecipientFilter, recipient_page
from contacts.models import Contact
from tests.campaigns.test_imports import run, upload

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's (pg_trgm)"
)

# Numbers sharing digits in every position: the same ends, starts, middles, another country's
# code before a Kazakh number, and German numbers of several lengths.
NUMBERS = [
    "+77011234567",
    "+77014567123",
    "+77771234567",
    "+977011234567",
    "+79990001122",
    "+447400123456",
    "+447011234567",
    "+4930123456",
    "+4930123456789",
    "+87011234567",
    "+77010000000",
]
TYPED = [
    "77011234567",
    "7011234567",
    "1234567",
    "123-45-67",
    "4567",
    "456",
    "701 123",
    "(701) 12",
    "8 701 123",
    "8 (701) 123-45",
    "0077011234",
    "00 7 701 123",
    "87011234567",
    "8 (701) 1234567",
    "30123456",
    "0000",
    "77012345",
    "9990",
    "011",
    "12",
]


@pytest.fixture
def big(acme, monkeypatch):
    """Acme's campaign counting as big, its numbers (and random ones) stored in two statuses."""
    monkeypatch.setattr(number_index, "FROM_MESSAGES", 1)
    rng = random.Random(20)
    phones = NUMBERS + [f"+7701{rng.randrange(10**7):07d}" for _ in range(300)]
    Message.objects.bulk_create(
        Message(campaign=acme.campaign, phone=phone, status=rng.choice(["delivered", "failed"]))
        for phone in phones
    )
    return acme.campaign


def found(campaign, typed: str, status: str = "") -> list[str]:
    chosen = RecipientFilter.from_query({"q": typed, "status": status})
    return list(chosen.apply(campaign).values_list("phone", flat=True))


def without_index(campaign, typed: str, status: str = "") -> list[str]:
    NumberIndex.objects.filter(campaign=campaign).update(built_at=None)
    try:
        return found(campaign, typed, status)
    finally:
        number_index.fill(campaign.pk)


@postgres_only
@pytest.mark.parametrize("status", ["", "failed"])
@pytest.mark.parametrize("typed", TYPED)
def test_the_index_finds_exactly_what_reading_the_messages_finds(big, typed, status):
    assert number_index.fill(big.pk)["numbers"] == len(NUMBERS) + 300
    digits = typed.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if len(digits) >= number_index.SHORTEST:
        assert number_index.holding(big, digits, "", set()) is not None  # the index is read

    assert found(big, typed, status) == without_index(big, typed, status)


def pages(campaign, typed: str, status: str = "") -> list[tuple[list[str], bool]]:
    """Every page of the recipient table under the search: its numbers, and whether it says
    there is a next one."""
    chosen, counters = RecipientFilter.from_query({"q": typed, "status": status}), None
    shown, number = [], 1
    while True:
        page = recipient_page(campaign, counters, chosen, str(number))
        shown.append(([row["phone"] for row in page.rows], page.has_next))
        if not page.has_next:
            return shown
        number += 1


@postgres_only
@pytest.mark.parametrize("status", ["", "failed"])
@pytest.mark.parametrize("typed", ["701 123", "4567", "456", "011", "8 701 123", "77012345"])
def test_the_tables_pages_through_the_index_are_those_read_from_the_messages(
    big, typed, status, monkeypatch
):
    """Without a status a page's ids come from the index alone, sorted and cut there."""
    monkeypatch.setattr(queries, "PAGE_SIZE", 7)
    number_index.fill(big.pk)
    through_index = pages(big, typed, status)
    NumberIndex.objects.filter(campaign=big).update(built_at=None)

    assert through_index == pages(big, typed, status)
    assert sum(len(numbers) for numbers, _ in through_index) == len(found(big, typed, status))


@postgres_only
def test_the_index_is_read_only_while_complete(big):
    assert number_index.holding(big, "4567", "", set()) is None  # never filled
    number_index.fill(big.pk)
    assert number_index.holding(big, "4567", "", set()) is not None

    number_index.changed([big.pk])  # as an import does when it stores more

    assert number_index.holding(big, "4567", "", set()) is None
    Message.objects.create(campaign=big, phone="+77018884567", status="delivered")
    assert "+77018884567" in found(big, "884567")


@postgres_only
def test_a_fill_under_an_older_version_is_rolled_back(big, monkeypatch):
    """A change (an import, an erasure) committed while a fill read the messages."""
    original = NumberIndex.objects.filter

    def change_meanwhile(*args, **kwargs):
        original(campaign=big).update(version="renewed")
        return original(*args, **kwargs)

    number_index.fill(big.pk)
    NumberIndex.objects.filter(campaign=big).update(built_at=None)
    monkeypatch.setattr(NumberIndex.objects, "filter", change_meanwhile)

    assert number_index.fill(big.pk)["skipped"] == "changed meanwhile"
    monkeypatch.undo()
    assert NumberIndex.objects.get(campaign=big).built_at is None


@postgres_only
def test_an_erased_number_leaves_the_index_at_once(big, acme):
    number_index.fill(big.pk)
    contact = Contact.objects.create(workspace=acme.workspace, phone="+77014567123")

    contact_history.erase(contact, actor=None)

    assert not MessageDigits.objects.filter(digits="77014567123").exists()
    assert NumberIndex.objects.get(campaign=big).built_at is not None  # still read
    assert "+77014567123" not in found(big, "4567123")
    assert found(big, "4567") == without_index(big, "4567")


@postgres_only
def test_status_updates_leave_the_index_alone(big):
    number_index.fill(big.pk)
    index = NumberIndex.objects.get(campaign=big)

    Message.objects.filter(campaign=big).update(status="delivered")

    assert NumberIndex.objects.get(campaign=big) == index
    assert NumberIndex.objects.get(campaign=big).version == index.version
    assert MessageDigits.objects.filter(campaign=big).count() == len(NUMBERS) + 300


@postgres_only
def test_deleting_a_draft_deletes_its_index(big):
    number_index.fill(big.pk)

    services.delete(big)

    assert not MessageDigits.objects.exists()
    assert not NumberIndex.objects.exists()


def test_an_import_makes_the_index_incomplete(acme):
    NumberIndex.objects.create(campaign=acme.campaign, version="old", built_at=timezone.now())

    run(upload(acme.campaign, "phone\r\n+77011234567\r\n"))

    assert NumberIndex.objects.get(campaign=acme.campaign).built_at is None


def test_beat_fills_a_clone_of_a_big_campaign(acme, monkeypatch):
    monkeypatch.setattr(number_index, "FROM_MESSAGES", 1)
    Message.objects.create(campaign=acme.campaign, phone="+77011234567")
    copy = services.clone(acme.campaign, None)

    number_index.fill_due()

    built = NumberIndex.objects.get(campaign=copy).built_at
    assert (built is not None) == (connection.vendor == "postgresql")
    assert found(copy, "1234567") == ["+77011234567"]


def test_small_campaigns_and_other_databases_are_not_filled(acme):
    Message.objects.create(campaign=acme.campaign, phone="+77011234567")

    assert "skipped" in number_index.fill(acme.campaign.pk)
    assert not MessageDigits.objects.exists()
