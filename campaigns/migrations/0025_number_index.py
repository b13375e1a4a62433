"""The number index (campaigns.number_index): a campaign's numbers beside its messages, with,
on PostgreSQL, a trigram GIN led by the campaign (through btree_gin, as contacts 0004) that
finds the numbers holding any three digits or more. Nothing touches campaigns_message.
"""

import django.db.models.deletion
from django.db import migrations, models

TRIGRAMS = (
    "CREATE INDEX IF NOT EXISTS message_digits_trigram "
    "ON campaigns_messagedigits USING gin (campaign_id, digits gin_trgm_ops)"
)


def create_trigrams(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        schema_editor.execute(TRIGRAMS)


def drop_trigrams(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS message_digits_trigram")


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0024_campaign_template'),
    ]

    operations = [
        migrations.CreateModel(
            name='NumberIndex',
            fields=[
                ('campaign', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='number_index', serialize=False, to='campaigns.campaign')),
                ('version', models.CharField(max_length=32)),
                ('built_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='MessageDigits',
            fields=[
                ('message', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='campaigns.message')),
                ('digits', models.CharField(max_length=15)),
                ('campaign', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='campaigns.campaign')),
            ],
        ),
        migrations.RunPython(create_trigrams, drop_trigrams),
    ]
