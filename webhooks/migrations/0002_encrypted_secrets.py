import core.crypto
import webhooks.models
from django.db import migrations


def _convert(apps, schema_editor, change):
    """Every endpoint's secrets through ``change`` (raw SQL: the model field would try to
    decrypt the plaintext of old rows)."""
    table = apps.get_model("webhooks", "Endpoint")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret, previous_secret FROM {table}")
        for pk, secret, previous in cursor.fetchall():
            cursor.execute(
                f"UPDATE {table} SET secret = %s, previous_secret = %s WHERE id = %s",
                [change(secret or ""), change(previous or ""), pk],
            )


def encrypt(apps, schema_editor):
    _convert(apps, schema_editor, core.crypto.encrypt_text)


def decrypt(apps, schema_editor):
    _convert(apps, schema_editor, core.crypto.decrypt_text)


class Migration(migrations.Migration):
    """Webhook signing secrets encrypted at rest under CRIER_ENCRYPTION_KEYS, like provider
    credentials (they were stored as they are). A token is longer than 64 characters, hence
    text columns; the way back decrypts them into the columns of 0001 again."""

    dependencies = [("webhooks", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="endpoint",
            name="previous_secret",
            field=core.crypto.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="endpoint",
            name="secret",
            field=core.crypto.EncryptedTextField(default=webhooks.models.new_secret),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
