from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

# SQLite renames the model's foreign key and the message's column by rebuilding the message
# table, which drops the counters' triggers of 0007: they are created again afterwards (and, on
# the way back, after the reverse rebuild). PostgreSQL renames in place and keeps them.
restore_sqlite_triggers = import_module(
    "campaigns.migrations.0010_import_speed"
).restore_sqlite_triggers


class Migration(migrations.Migration):
    """One name per concept (issue #16): a provider-sized share of a campaign is a batch, so
    ``Dispatch`` becomes ``Batch``, ``Message.dispatch`` becomes ``Message.batch`` and
    ``Campaign.dispatches`` becomes ``Campaign.batches``. Rows, keys and statuses are kept;
    only table, column and index names change. The names the database gave the table's own
    keys, checks and sequence (campaigns_dispatch_pkey, ...) stay, as with any RenameModel:
    Django finds those by their columns, and every install, old or new, has the same ones."""

    dependencies = [("campaigns", "0013_dispatch_links")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.RenameModel(old_name="Dispatch", new_name="Batch"),
        migrations.AlterModelOptions(
            name="batch", options={"ordering": ["pk"], "verbose_name_plural": "batches"}
        ),
        migrations.AlterField(
            model_name="batch",
            name="campaign",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="batches",
                to="campaigns.campaign",
            ),
        ),
        migrations.RenameIndex(
            model_name="batch",
            new_name="campaigns_b_campaig_96c103_idx",
            old_name="campaigns_d_campaig_c81ba5_idx",
        ),
        # The partial index names its field in its condition, so it is made again for the
        # renamed column rather than renamed.
        migrations.RemoveIndex(model_name="message", name="message_dispatch"),
        migrations.RenameField(model_name="message", old_name="dispatch", new_name="batch"),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("batch__isnull", False)),
                fields=["batch"],
                name="message_batch",
            ),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
