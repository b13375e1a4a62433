from django.db import migrations, models


class Migration(migrations.Migration):
    # After the tracking engine's migration, so the graph keeps a single leaf.
    dependencies = [("campaigns", "0008_tracking_engine")]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["campaign", "id", "status"], name="message_campaign_order"),
        ),
    ]
