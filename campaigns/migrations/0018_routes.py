from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models


# SQLite adds a foreign key to the message table by rebuilding it, which drops the counters'
# triggers of 0007: they are created again afterwards (and, on the way back, after the reverse
# rebuild), as in 0014. PostgreSQL adds the columns in place and keeps them.
restore_sqlite_triggers = import_module(
    "campaigns.migrations.0010_import_speed"
).restore_sqlite_triggers


class Migration(migrations.Migration):
    """Routes (issue #19): a message may go through another account of the workspace than
    its campaign's (its cheapest route, or a backup after a failover); a batch records the
    account and sender name it went through."""

    dependencies = [
        ("campaigns", "0017_campaign_transactional"),
        ("providers", "0007_low_balance_alert"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.AddField(
            model_name="batch",
            name="account",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="batches",
                to="providers.provideraccount",
            ),
        ),
        migrations.AddField(
            model_name="batch",
            name="sender",
            field=models.CharField(blank=True, db_default="", max_length=40),
        ),
        migrations.AddField(
            model_name="message",
            name="account",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="providers.provideraccount",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="sender",
            field=models.CharField(blank=True, db_default="", max_length=40),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
