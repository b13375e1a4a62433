"""Indexes that keep the contacts page, its searches and segment counts fast at a million
contacts (bench/contacts_pages.py measures them with and without).

On every database: the sort orders of the contacts page, each led by the workspace, with the id
to break ties, and the country filter in number order. On PostgreSQL also: a trigram GIN over
the upper-cased name (``name__icontains`` is ``UPPER(name) LIKE UPPER('%…%')``) and a
``jsonb_path_ops`` GIN over the custom fields (a field equal to a value is a containment,
``fields @> {"city": "Almaty"}``, in contacts.segments and the field search), both led by the
workspace through btree_gin. A number's prefix needs none: it is a range over the
(workspace, phone) unique index, whatever the database's collation (contacts.search).
"""

from django.db import migrations

TABLE = "contacts_contact"
EVERYWHERE = {
    "contact_name_order": "(workspace_id, name, id)",
    "contact_added_order": "(workspace_id, created_at, id)",
    "contact_updated_order": "(workspace_id, updated_at, id)",
    "contact_country": "(workspace_id, country, phone)",
}
POSTGRES_ONLY = {
    "contact_name_trigram": "USING gin (workspace_id, upper(name) gin_trgm_ops)",
    "contact_fields_gin": "USING gin (workspace_id, fields jsonb_path_ops)",
}


def create(apps, schema_editor):
    execute = schema_editor.execute
    for name, columns in EVERYWHERE.items():
        execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} {columns}")
    if schema_editor.connection.vendor == "postgresql":
        execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        for name, method in POSTGRES_ONLY.items():
            execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} {method}")


def drop(apps, schema_editor):
    names = list(EVERYWHERE)
    if schema_editor.connection.vendor == "postgresql":
        names += list(POSTGRES_ONLY)
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_stop_list")]

    operations = [migrations.RunPython(create, drop)]
