"""Statistics of the contacts' upper-cased names, for the planner (PostgreSQL).

A name search is ``UPPER(name) LIKE UPPER('%…%')``. PostgreSQL estimated how many contacts it
finds from the statistics ANALYZE keeps of the name trigram GIN's expression, until contacts
0008 made that GIN partial (``WHERE NOT bulk_loaded``): it takes no statistics from a partial
index, so every search of four letters was guessed at 0.8 % of the book, and a name nobody has
read a million-contact book in number order to fill its page (0.7-1.3 s, bench/contacts_pages.py)
instead of looking in the index. These statistics are the table's own, kept by every ANALYZE
(no cost to a write); the table's name column is analysed here so that they exist at once.
"""

from django.db import migrations

CREATE = "CREATE STATISTICS IF NOT EXISTS contact_name_upper ON (upper(name::text)) FROM {}"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("contacts", "Contact")._meta.db_table
    schema_editor.execute(CREATE.format(table))
    schema_editor.execute(f"ANALYZE {table} (name)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS contact_name_upper")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0008_bulk_loaded_indexes")]

    operations = [migrations.RunPython(create, drop)]
