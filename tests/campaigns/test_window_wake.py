"""A campaign asleep until its recipients' window opens wakes at the opening, even when one
of its batches waits for something later (found by review: the sleep until the batch's own
retry or lookup replaced the sleep until the opening, so the window's first minutes, or
hours, went by unused)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from campaigns.models import Batch
from core.statuses import BatchStatus
from tests.campaigns.test_windows_sending import DAILY, two_zones, utc  # noqa: F401
from tests.sendkit import tick

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]
SEND_BATCH_SIZE = 50


@pytest.mark.parametrize("status", [BatchStatus.UNKNOWN, BatchStatus.HELD])
def test_a_batch_waiting_longer_does_not_delay_the_windows_opening(two_zones, status):  # noqa: F811
    opening = utc(2026, 12, 7, 4, 0)  # 09:00 in Almaty
    with time_machine.travel(utc(2026, 12, 7, 2, 0), tick=True):
        campaign, _remote = two_zones(send_window=DAILY)
        # Looked up again (or relaunched) an hour after the opening.
        Batch.objects.create(
            campaign=campaign,
            account=campaign.account,
            key="later",
            status=status,
            provider_campaign_id="1",
            next_attempt_at=opening + timedelta(hours=1),
        )
        tick()
        campaign.refresh_from_db()
        assert campaign.next_attempt_at == opening
    with time_machine.travel(opening + timedelta(seconds=2), tick=True):
        assert tick() == [campaign.pk]
        assert campaign.messages.filter(phone__startswith="+7727", batch__isnull=False).exists()
