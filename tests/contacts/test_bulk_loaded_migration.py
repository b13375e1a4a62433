"""Contacts 0007 and 0008 (issue #17): upgrading a big contacts table blocks no write on
PostgreSQL, and the indexes are right migrating forward and back on either database."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from contacts.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)

book_indexes = importlib.import_module("contacts.migrations.0004_book_indexes")
BEFORE = ("contacts", "0006_contact_workspace_unchecked")


def indexes() -> dict[str, str]:
    """The contacts table's indexes, by name, with their definitions on PostgreSQL."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s",
                [Contact._meta.db_table],
            )
            return dict(cursor.fetchall())
        return dict.fromkeys(connection.introspection.get_constraints(cursor, "contacts_contact"))


def migrate(*targets) -> None:
    MigrationExecutor(connection).migrate(list(targets))


@pytest.fixture
def at_the_end():
    """Whatever a test migrated to, the suite goes on with every migration applied."""
    yield
    migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_indexes_are_made_and_dropped_concurrently_outside_a_transaction():
    migration = importlib.import_module("contacts.migrations.0008_bulk_loaded_indexes")
    said: list[str] = []
    editor = SimpleNamespace(connection=SimpleNamespace(vendor="postgresql"), execute=said.append)

    migration.leave_out_bulk_loaded(None, editor)
    migration.take_in_bulk_loaded(None, editor)

    assert migration.Migration.atomic is False
    changes = [sql for sql in said if sql.startswith(("CREATE INDEX", "DROP INDEX"))]
    assert len(changes) == len(said) - 4  # four renames
    assert all("CONCURRENTLY" in sql for sql in changes), changes


def test_migrating_back_and_forth_keeps_the_book_s_indexes(at_the_end):
    postgres = connection.vendor == "postgresql"
    migrate(BEFORE)
    before = indexes()
    assert set(book_indexes.EVERYWHERE) <= before.keys()
    assert "contact_bulk_loaded" not in before
    if postgres:
        assert "WHERE" not in before["contact_name_trigram"]

    migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())

    after = indexes()
    assert set(book_indexes.EVERYWHERE) <= after.keys()
    if postgres:
        assert set(book_indexes.POSTGRES_ONLY) | {"contact_bulk_loaded"} <= after.keys()
        for name in book_indexes.POSTGRES_ONLY:
            assert after[name].endswith("WHERE (NOT bulk_loaded)"), after[name]
        assert not [name for name in after if name.endswith("_next")]

    migrate(BEFORE)

    assert indexes() == before
