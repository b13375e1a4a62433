"""Migration 0004 leaves the indexes the contacts page, its searches and segment counts rely
on, and the planner knows how many contacts a name search finds (0009); bench/contacts_pages.py
times the pages with and without the indexes."""

from __future__ import annotations

import importlib
import json

import pytest
from django.db import connection
from django.http import QueryDict

from contacts.models import Contact
from contacts.search import ContactFilter

pytestmark = pytest.mark.django_db

migration = importlib.import_module("contacts.migrations.0004_book_indexes")


def indexes() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, Contact._meta.db_table))


def test_the_sort_and_country_indexes_exist_on_every_database():
    assert set(migration.EVERYWHERE) <= indexes()


def test_the_trigram_and_fields_indexes_exist_on_postgresql():
    if connection.vendor == "postgresql":
        assert set(migration.POSTGRES_ONLY) <= indexes()
    else:
        assert not set(migration.POSTGRES_ONLY) & indexes()


NAMES = ["Aigerim Omarova", "Erlan Kim", "Dana Li", "Timur Smith", ""]


def planned_rows(contacts) -> float:
    """How many rows PostgreSQL expects ``contacts`` to find."""
    sql, params = contacts.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]


def search(workspace, text: str):
    return ContactFilter.from_query(QueryDict(f"q={text}")).apply(workspace)


@pytest.fixture
def named_book(acme):
    """Acme's book of 20,000 contacts with a few names, analysed."""
    workspace = acme.workspace
    Contact.objects.bulk_create(
        Contact(workspace=workspace, phone=f"+7702{n:07}", name=NAMES[n % len(NAMES)])
        for n in range(20_000)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Contact._meta.db_table}")
    return workspace


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_name_search_is_estimated_from_the_names_statistics(named_book):
    # The name GINs are partial since contacts 0008 and PostgreSQL takes no statistics from a
    # partial index: without statistics of their own on upper(name) every search of four
    # letters was guessed at 0.8 % of the book (160 here), so a name nobody has read the
    # million-contact book in number order to fill its page (bench: 0.7-1.3 s).
    assert planned_rows(search(named_book, "zzzq")) < 10
    assert 3000 < planned_rows(search(named_book, "smith")) < 5000  # 4,000
