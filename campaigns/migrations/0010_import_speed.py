from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

import campaigns.models

tracking = import_module("campaigns.migrations.0007_tracking")


def restore_sqlite_triggers(apps, schema_editor):
    """SQLite alters the campaign field by rebuilding the table, which drops its triggers: the
    counters' triggers of 0007 are created again (the rows were copied without them firing, so
    the counters are still right)."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in [*tracking.SQLITE_DROP, *tracking.SQLITE_TRIGGERS]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    """Cheaper message inserts for the recipient import (issue #4): no per-row foreign-key check
    on Message.campaign (integrity is kept by locking the campaign row, see models.Message), and
    the reference's uniqueness as a constraint, without the unused LIKE-pattern index that
    unique=True adds on PostgreSQL."""

    # After 0010, not 0007: a second leaf would stop every `migrate` until merged.
    dependencies = [("campaigns", "0009_pages")]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="campaign",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="campaigns.campaign",
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="reference",
            field=models.CharField(default=campaigns.models.new_reference, max_length=32),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(fields=("reference",), name="message_reference"),
        ),
        migrations.RunPython(restore_sqlite_triggers, restore_sqlite_triggers),
    ]
