from importlib import import_module

from django.db import migrations, models

# As 0023: were a later Django to rebuild the message table on SQLite for an index, the
# counters' triggers of 0007 are created again afterwards.
restore_sqlite_triggers = import_module(
    "campaigns.migrations.0010_import_speed"
).restore_sqlite_triggers

INDEXED = [
    "pending",
    "submitting",
    "undelivered",
    "expired",
    "rejected",
    "failed",
    "cancelled",
    "unknown",
]
PARTIAL = models.Index(
    condition=models.Q(status__in=INDEXED),
    fields=["campaign", "status"],
    name="message_campaign_status",
)


def create(apps, schema_editor):
    """Partial on PostgreSQL. SQLite uses a partial index only for a query that repeats its
    condition (it cannot tell that status = 'pending' is one of the list), so there it holds
    every status, as the index it replaces did."""
    index = PARTIAL
    if schema_editor.connection.vendor != "postgresql":
        index = models.Index(fields=PARTIAL.fields, name=PARTIAL.name)
    schema_editor.add_index(apps.get_model("campaigns", "Message"), index)


def drop(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("campaigns", "Message"), PARTIAL)


class Migration(migrations.Migration):
    """The (campaign, status) index leaves out queued, sent and delivered on PostgreSQL
    (models.Message): a poll's status changes add no entry to it."""

    dependencies = [
        ("campaigns", "0025_number_index"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="message", index=PARTIAL)],
            database_operations=[migrations.RunPython(create, drop)],
        ),
        migrations.RemoveIndex(model_name="message", name="campaigns_m_campaig_6ddb94_idx"),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
