"""Migration 0004 leaves the indexes the contacts page, its searches and segment counts rely
on; bench/contacts_pages.py times the pages with and without them."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from contacts.models import Contact

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
