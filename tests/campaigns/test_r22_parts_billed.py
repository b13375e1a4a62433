"""Review r22: the price shown before launch is what the sandbox bills, for texts whose parts
depend on where a part may end. Crier's counter (campaigns/compose/segments.py ``_measure``)
never splits a GSM escape pair (€, [, ], ...) or a UTF-16 surrogate pair (an emoji) across two
parts, so such a pair on a boundary opens the next part; the sandbox's billing
(providers/sandbox/billing.py ``segments``) divides the length by 153 or 67 and does split
them. One of the two is wrong, and the estimate frozen at launch is not the money billed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.compose import pricing
from tests.sendkit import billed_as_priced, campaign_for, launch_and_send, ledger

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = {
    # 306 septets: 152 letters, € (ESC + e) across the 153rd septet, 152 letters
    "escape pair on a boundary": "a" * 152 + "€" + "b" * 152,
    # 133 UTF-16 units: 66 Cyrillic letters, an emoji across the 67th unit, 66 letters
    "emoji on a boundary": "я" * 66 + "😀" + "я" * 66,
}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_r22_the_price_shown_is_what_the_sandbox_bills(settings, acme, live_server, text):
    settings.CRIER_SEND_BATCH_SIZE = 5
    account, remote = billed_as_priced(acme.workspace, "bsg", live_server.url)
    campaign = campaign_for(acme.workspace, account, 3, status="draft", text=text)
    shown = pricing.estimate(campaign)

    billed = launch_and_send(campaign, acme.user("sender"), remote)

    assert ledger(remote) == {"charges": 3, "phones_charged_twice": 0}
    assert shown.total == billed, f"shown {shown.segments} parts, {shown.total}; billed {billed}"
    assert Decimal(campaign.estimate["total"]) == billed
