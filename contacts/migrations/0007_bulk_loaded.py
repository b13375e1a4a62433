"""Contacts a big import loaded into an empty book (issue #17, contacts.search_indexes).

``Contact.bulk_loaded`` (false unless such an import COPYed the contact; a database default,
so every INSERT that does not name it writes false). On PostgreSQL the name and fields GINs
of 0004 are made again leaving bulk-loaded contacts out (each such book has its own, made
after its import), and a partial index finds a workspace's bulk-loaded contacts, which a
search reads there until the book's own indexes exist (empty but for those contacts).
"""

import importlib

from django.db import migrations, models

book_indexes = importlib.import_module("contacts.migrations.0004_book_indexes")

TABLE = "contacts_contact"
GINS = {
    "contact_name_trigram": "USING gin (workspace_id, upper(name) gin_trgm_ops)",
    "contact_fields_gin": "USING gin (workspace_id, fields jsonb_path_ops)",
}


def leave_out_bulk_loaded(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        # SQLite adds the column by making the table again, without 0004's indexes (they
        # are not in Django's model state): they are made again.
        book_indexes.create(apps, schema_editor)
        return
    for name, method in GINS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} {method} WHERE NOT bulk_loaded")
    schema_editor.execute(
        f"CREATE INDEX contact_bulk_loaded ON {TABLE} (workspace_id) WHERE bulk_loaded"
    )


def take_in_bulk_loaded(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # removing the column makes the table again, after this (see operations)
    schema_editor.execute("DROP INDEX IF EXISTS contact_bulk_loaded")
    for name, method in GINS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} {method}")


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
        migrations.RunPython(leave_out_bulk_loaded, take_in_bulk_loaded),
    ]
