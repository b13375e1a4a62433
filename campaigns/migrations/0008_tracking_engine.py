from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    """Tracking matches reports that carry only the provider's message id (Mobizon) through
    this index; partial, so an import (no provider id yet) pays nothing for it."""

    dependencies = [("campaigns", "0007_tracking")]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=~Q(provider_message_id=""),
                fields=["provider_message_id"],
                name="message_provider_id",
            ),
        ),
    ]
