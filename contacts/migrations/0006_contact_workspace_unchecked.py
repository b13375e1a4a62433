"""No database constraint on Contact.workspace (issue #17): PostgreSQL checks a foreign key with
a query per inserted row, about 10 s of the server's CPU in a million-contact import. Integrity
is kept by locking the workspace row instead (see models.Contact)."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

book_indexes = import_module("contacts.migrations.0004_book_indexes")


def restore_sqlite_indexes(apps, schema_editor):
    """SQLite alters the field by rebuilding the table, which drops the indexes 0004 made with
    SQL of its own: they are made again (IF NOT EXISTS: PostgreSQL keeps them)."""
    if schema_editor.connection.vendor == "sqlite":
        book_indexes.create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0005_list_member"),
        ("dashboard", "0004_windows"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contact",
            name="workspace",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="contacts",
                to="dashboard.workspace",
            ),
        ),
        migrations.RunPython(restore_sqlite_indexes, restore_sqlite_indexes),
    ]
