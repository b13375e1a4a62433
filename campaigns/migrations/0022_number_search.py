"""The (campaign, status) index of messages also holds each number's last four digits, so a
search for the end of a number reads the index alone (campaigns.pages.number_search)."""

from django.db import migrations, models
from django.db.models.functions import Right


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0021_failover")]

    operations = [
        migrations.RemoveIndex(model_name="message", name="campaigns_m_campaig_6ddb94_idx"),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                models.F("campaign"),
                models.F("status"),
                Right("phone", 4),
                name="message_campaign_status",
            ),
        ),
    ]
