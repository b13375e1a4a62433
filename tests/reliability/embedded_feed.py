"""A stream of imports and launches on the demo, for ``test_embedded.py``.

Run as a script in the embedded default's environment (SQLite and the embedded broker): every
``--every`` seconds for ``--seconds`` it creates a draft on a demo SMS account, pastes its
recipients and confirms the import (a run_import task through the broker), and launches every
draft whose import is done (beat then hands it to a send_campaign task, and its delivery
statuses to poll_campaign tasks). It skips a turn while three imports wait, so the backlog
stays small, and at the end launches the drafts still importing as they finish.
It goes through the same services the pages call, and prints what it did as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crier.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from campaigns import services  # noqa: E402
from campaigns.models import Campaign, Channel, ImportStatus, RecipientImport  # noqa: E402
from campaigns.recipients import imports  # noqa: E402
from core.statuses import CampaignStatus  # noqa: E402
from providers.models import ProviderAccount, SenderName  # noqa: E402

RECIPIENTS = 40
WAITING = (ImportStatus.QUEUED, ImportStatus.RUNNING)
MAX_WAITING = 3


def sms_accounts(workspace):
    for account in ProviderAccount.objects.filter(workspace=workspace).order_by("pk"):
        sender = SenderName.objects.filter(account=account, status="approved").first()
        if "sms" in account.adapter_class.capabilities.channels and sender:
            yield account, sender.value


def draft(user, account, sender: str, n: int) -> None:
    campaign = Campaign.objects.create(
        workspace=account.workspace,
        account=account,
        name=f"Feed {n}",
        channel=Channel.SMS,
        sender=sender,
        text=f"Feed {n}: hello from Crier",
        created_by=user,
    )
    phones = "\n".join(f"+7701{n:03d}{i:04d}" for i in range(RECIPIENTS))
    imp = imports.create(campaign, user, text=phones)
    imports.confirm(imp, "add")


def launch_ready(user) -> tuple[int, int]:
    """Launches the drafts whose import is done: (launched, refused)."""
    launched = refused = 0
    ready = Campaign.objects.filter(
        name__startswith="Feed ", status=CampaignStatus.DRAFT, imports__status=ImportStatus.DONE
    ).distinct()
    for campaign in ready:
        try:
            services.launch(campaign, user, confirm_unpriced=True)
            launched += 1
        except services.CampaignRuleError as exc:
            print(f"{campaign.name}: {exc}", file=sys.stderr)
            refused += 1
    return launched, refused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--every", type=float, default=2.0)
    options = parser.parse_args()
    user = get_user_model().objects.get(username="demo")
    workspace = user.memberships.get().workspace
    accounts = cycle(list(sms_accounts(workspace)))
    drafts = launched = refused = 0
    deadline = time.monotonic() + options.seconds
    while time.monotonic() < deadline:
        # A new import only while few are waiting: the feed keeps the worker busy without
        # piling up more work than two processes on a shared machine finish in time.
        if RecipientImport.objects.filter(status__in=WAITING).count() < MAX_WAITING:
            account, sender = next(accounts)
            draft(user, account, sender, drafts)
            drafts += 1
        time.sleep(options.every)
        done, failed = launch_ready(user)
        launched, refused = launched + done, refused + failed
    # The last imports may still be running: launch them as they finish, for a minute at most.
    deadline = time.monotonic() + 60
    while launched + refused < drafts and time.monotonic() < deadline:
        time.sleep(1)
        done, failed = launch_ready(user)
        launched, refused = launched + done, refused + failed
    print(json.dumps({"drafts": drafts, "launched": launched, "refused": refused}))


if __name__ == "__main__":
    main()
