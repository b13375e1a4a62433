from importlib import import_module

from django.db import migrations, models

# Creating an index does not rebuild the message table on SQLite, but were a later Django to do
# so the counters' triggers of 0007 would go: they are created again afterwards, as in 0018.
restore_sqlite_triggers = import_module(
    "campaigns.migrations.0010_import_speed"
).restore_sqlite_triggers


class Migration(migrations.Migration):
    """The API's GET /api/v1/messages?updated_since= reads an index of (campaign, updated_at)
    instead of every message of the campaign or workspace."""

    dependencies = [
        ("campaigns", "0022_counters_grouped"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["campaign", "updated_at"], name="message_updated"),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
