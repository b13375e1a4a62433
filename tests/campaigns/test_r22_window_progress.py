"""Review r22: a batch part-way through a multi-call submission (Mobizon: Create, then
AddRecipients, then Send) when its recipients' window closes. HeldBatch._outside_window
(campaigns/sending/engine.py) gives a claimed batch's closed messages back to pending only
while it is untouched (no progress); a batch whose Create went through and whose next call was
refused goes on at its retry, whatever the hour: its messages go out at night."""

from __future__ import annotations

import pytest
import time_machine

from campaigns import windows
from campaigns.models import Message
from core import windows as core_windows
from providers.sandbox.models import Charge
from tests.campaigns.test_windows_claimed import run
from tests.campaigns.test_windows_sending import DAILY, utc
from tests.sendkit import campaign_for, knobs, sandbox_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_engine")]
SEND_BATCH_SIZE = 50


def test_r22_a_batch_part_way_through_its_calls_waits_for_the_window(acme, live_server):
    account, remote = sandbox_account(acme.workspace, "mobizon", live_server.url)
    campaign = campaign_for(acme.workspace, account, 0, send_window=DAILY)
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7727{n:07d}", country="KZ") for n in range(30)
    )
    windows.assign_zones(campaign)
    # 14:59 UTC = 19:59 in Almaty: open. The provider takes the Create and the AddRecipients,
    # then refuses the Send (rate limited: every third request).
    with time_machine.travel(utc(2026, 12, 7, 14, 59), tick=True):
        knobs(remote, rate_limit_every_n=3, retry_after=60)
        run(campaign)
        batch = campaign.batches.get()
        assert batch.progress.get("added_0"), "set-up: the recipients were added"
        assert not Charge.objects.filter(account=remote).exists()
    knobs(remote, rate_limit_every_n=0)
    # 17:00 UTC = 22:00 in Almaty: closed. Nothing may go before 09:00.
    with time_machine.travel(utc(2026, 12, 7, 17, 0), tick=True):
        run(campaign)
    parsed = core_windows.parse(DAILY)
    late = [
        (phone, at.astimezone(core_windows.tz("Asia/Almaty")).strftime("%H:%M"))
        for phone, at in Charge.objects.filter(account=remote).values_list("phone", "created_at")
        if not parsed.is_open("Asia/Almaty", at)
    ]
    assert late == [], f"{len(late)} messages sent outside 09:00-20:00 local, e.g. {late[:2]}"
