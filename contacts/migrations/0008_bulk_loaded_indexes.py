"""The search indexes of 0004 leave bulk-loaded contacts out (issue #17, contacts.search_indexes).

On PostgreSQL the name and fields GINs are made again ``WHERE NOT bulk_loaded`` (each
bulk-loaded book has its own, made after its import), and a partial btree finds a workspace's
bulk-loaded contacts, which a search reads there until the book's own indexes exist. Every
index is made and dropped CONCURRENTLY, outside a transaction (``atomic = False``), so that
upgrading a big table blocks no write: a GIN is made beside the old one under a passing name,
then put in its place, so searches have one throughout. Each step can be run again after an
interruption (an invalid index left by one is dropped first). Nothing to do on SQLite.
"""

from django.db import migrations

TABLE = "contacts_contact"
GINS = {
    "contact_name_trigram": "USING gin (workspace_id, upper(name) gin_trgm_ops)",
    "contact_fields_gin": "USING gin (workspace_id, fields jsonb_path_ops)",
}


def _replace(execute, name: str, definition: str) -> None:
    execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_next")
    execute(f"CREATE INDEX CONCURRENTLY {name}_next ON {TABLE} {definition}")
    execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    execute(f"ALTER INDEX {name}_next RENAME TO {name}")


def leave_out_bulk_loaded(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute("DROP INDEX CONCURRENTLY IF EXISTS contact_bulk_loaded")
    execute(
        f"CREATE INDEX CONCURRENTLY contact_bulk_loaded ON {TABLE} (workspace_id) WHERE bulk_loaded"
    )
    for name, method in GINS.items():
        _replace(execute, name, f"{method} WHERE NOT bulk_loaded")


def take_in_bulk_loaded(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, method in GINS.items():
        _replace(schema_editor.execute, name, method)
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS contact_bulk_loaded")


class Migration(migrations.Migration):
    atomic = False  # CREATE and DROP INDEX CONCURRENTLY

    dependencies = [("contacts", "0007_bulk_loaded")]

    operations = [migrations.RunPython(leave_out_bulk_loaded, take_in_bulk_loaded)]
