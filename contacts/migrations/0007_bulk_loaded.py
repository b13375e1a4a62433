"""Contacts a big import loaded into an empty book (issue #17, contacts.search_indexes).

``Contact.bulk_loaded`` (false unless such an import COPYed the contact; a database default,
so every INSERT that does not name it writes false; on PostgreSQL adding it rewrites nothing).
Its indexes are 0008's, made concurrently outside a transaction.
"""

import importlib

from django.db import migrations, models

book_indexes = importlib.import_module("contacts.migrations.0004_book_indexes")


def make_again(apps, schema_editor):
    # SQLite adds the column by making the table again, without 0004's indexes (they are not
    # in Django's model state): they are made again.
    if schema_editor.connection.vendor != "postgresql":
        book_indexes.create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_contact_workspace_unchecked")]

    operations = [
        # Undone last: 0004's indexes again after SQLite made the table without the column.
        migrations.RunPython(migrations.RunPython.noop, book_indexes.create),
        migrations.AddField(
            model_name="contact",
            name="bulk_loaded",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.RunPython(make_again, migrations.RunPython.noop),
    ]
