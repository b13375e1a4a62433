"""Campaigns wired to a sandbox provider over real HTTP, and the ledger's view of what was sent.

Shared by the sending tests (in-process engine, live_server) and the reliability tests (real
worker processes). Expected figures always come from the sandbox's own charge ledger.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.db.models import Count

from campaigns import services
from campaigns.models import Campaign, Channel, Message
from campaigns.sending import engine
from core.statuses import CampaignStatus, MessageStatus
from providers import registry
from providers.models import ProviderAccount, Rate
from providers.sandbox import accounts
from providers.sandbox.models import Charge, SandboxAccount

SENDER = accounts.DEMO_SENDERS[0][0]  # approved at every sandbox provider
OTHER_SENDER = "CrierDemo"  # approved at every sandbox provider too


def sandbox_account(workspace, slug: str, server_url: str, *, name: str = "Send test"):
    """A Crier account for ``workspace`` on a fresh sandbox account with a deep balance."""
    credentials = accounts.provision(slug, name=name)
    remote = SandboxAccount.objects.get(provider=slug, name=name)
    remote.balance = Decimal("100000000")
    remote.save(update_fields=["balance"])
    account = ProviderAccount(
        workspace=workspace,
        provider=slug,
        name=f"{slug} {name}",
        api_base_url=f"{server_url}/sandbox/{slug}",
        currency=remote.currency or "USD",
    )
    account.credentials = credentials
    account.save()
    return account, remote


def billed_as_priced(workspace, slug: str, server_url: str, country: str = "KZ"):
    """sandbox_account with a Crier rate card for ``country`` at what the sandbox bills a part,
    so the price shown and the money billed can be compared."""
    account, remote = sandbox_account(workspace, slug, server_url)
    part = registry.emulator(slug).segment_price(remote)
    Rate.objects.create(account=account, country=country, price=part)
    return account, remote


def launch_and_send(campaign: Campaign, user, remote: SandboxAccount) -> Decimal:
    """Launches the draft, lets beat start it and sends it in-process; returns what ``remote``
    billed."""
    services.launch(campaign, user)
    engine.dispatch_due(lambda pk: None)  # beat starts the campaign
    campaign.refresh_from_db()
    send_all(campaign)
    return Charge.objects.active().filter(account=remote).total()


def bsg_and_mobizon(workspace, server_url: str, names=("Send test", "Send test")):
    """Two sandbox accounts of ``workspace``, a BSG one and a Mobizon one (KZT): each as
    ``sandbox_account`` gives it, (Crier's account, the sandbox's)."""
    return (
        sandbox_account(workspace, "bsg", server_url, name=names[0]),
        sandbox_account(workspace, "mobizon", server_url, name=names[1]),
    )


def with_backup(workspace, server_url: str, recipients: int, *, names=("Send test",) * 2, **rule):
    """A sending campaign of ``recipients`` on a BSG account with a Mobizon backup under
    OTHER_SENDER and the failover ``rule`` (Campaign.failover_* fields): (campaign, (primary,
    its sandbox account), (backup, its sandbox account))."""
    primary, backup = bsg_and_mobizon(workspace, server_url, names)
    campaign = campaign_for(
        workspace, primary[0], recipients, backup_account=backup[0], backup_sender=OTHER_SENDER,
        **rule,
    )  # fmt: skip
    return campaign, primary, backup


def campaign_for(workspace, account, recipients: int, *, status="sending", **fields) -> Campaign:
    """A campaign with ``recipients`` pending messages to distinct Kazakh mobile numbers."""
    voice = "sms" not in account.adapter_class.capabilities.channels
    campaign = Campaign.objects.create(
        workspace=workspace,
        account=account,
        name=fields.pop("name", "Reliable"),
        channel=Channel.VOICE if voice else Channel.SMS,
        voice_kind="tts" if voice else "",
        sender="" if voice else SENDER,
        text=fields.pop("text", "Hello from Crier"),
        status=status,
        **fields,
    )
    Message.objects.bulk_create(
        Message(campaign=campaign, phone=f"+7701{n:07d}", country="KZ", row_number=n + 2)
        for n in range(recipients)
    )
    return campaign


def knobs(remote: SandboxAccount, **values) -> None:
    """Sets the sandbox account's fault knobs (errors_until, slow_seconds, api_key...)."""
    SandboxAccount.objects.filter(pk=remote.pk).update(**values)


def ledger(remote: SandboxAccount, *, with_refunds: bool = False) -> dict:
    """What the provider billed: charges in all, phones billed twice or more. A provider
    refunds what a stop kept from going out; ``with_refunds`` counts those charges too."""
    charges = Charge.objects if with_refunds else Charge.objects.active()
    active = charges.filter(account=remote)
    twice = active.values("phone").annotate(n=Count("pk")).filter(n__gt=1)
    return {"charges": active.count(), "phones_charged_twice": twice.count()}


def statuses(campaign: Campaign) -> dict[str, int]:
    rows = campaign.messages.values_list("status").annotate(n=Count("pk"))
    return dict(rows)


def unsent(campaign: Campaign) -> int:
    return campaign.messages.filter(
        status__in=[MessageStatus.PENDING, MessageStatus.SUBMITTING]
    ).count()


def tick(budget: float = 5) -> list[int]:
    """One beat tick and a worker's run of each campaign it handed out, as in production;
    returns the ids it handed out."""
    handed_out: list[int] = []
    engine.dispatch_due(handed_out.append)
    for pk in handed_out:
        try:
            engine.run(pk, budget=budget)
        finally:
            engine.release(pk)
    return handed_out


def send_all(campaign: Campaign, *, budget: float = 5, within: float = 60) -> None:
    """Runs the send engine in-process until the campaign is sent (within ``within`` s)."""
    deadline = time.monotonic() + within
    while campaign.status == CampaignStatus.SENDING and time.monotonic() < deadline:
        try:
            engine.run(campaign.pk, budget=budget)
        finally:
            engine.release(campaign.pk)
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT, statuses(campaign)
