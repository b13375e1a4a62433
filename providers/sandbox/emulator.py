"""What the sandbox needs from a provider package to stand in for that provider.

A package's ``emulator`` module defines ``urlpatterns`` (the provider's API, served at
/sandbox/<slug>/ by ``providers.sandbox.urls``) and one ``Emulator`` subclass, which the
package's card names. The generic parts (accounts, the ledger, faults, delivery) ask the
subclass for what differs between providers, so none of them branches on a slug.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from providers.sandbox.models import SandboxAccount


@dataclass(frozen=True)
class DemoCampaign:
    """A finished campaign ``seed_demo`` shows on the demo account of this provider."""

    name: str
    days_ago: int
    recipients: int
    delivered_percent: int
    price: str  # per message, in the demo account's currency


@dataclass(frozen=True)
class Demo:
    """The demo's Crier-side account at this provider (``manage.py seed_demo``)."""

    account_name: str
    currency: str
    # channel -> price of one message to Kazakhstan: the sandbox's own price, so the demo's
    # estimate matches what it bills. Empty for a provider that counts credits, not money.
    rates: dict[str, Decimal] = field(default_factory=dict)
    history: tuple[DemoCampaign, ...] = ()


class Emulator:
    """One provider as the sandbox knows it. Subclasses are declarative; override a method only
    where the provider's accounts differ (a regional domain, a pre-existing campaign)."""

    # The balance a new sandbox account starts with, in ``currency`` (credits when blank).
    starting_balance: ClassVar[Decimal]
    currency: ClassVar[str] = "EUR"
    # Price of one SMS segment, and of one voice message unless ``voice_price`` says otherwise.
    price: ClassVar[Decimal]
    demo: ClassVar[Demo]

    @classmethod
    def new_account(cls, name: str) -> dict:
        """The ``SandboxAccount`` fields of a new account called ``name``: its credentials
        (``api_key``, or ``email`` and ``password``) and anything else the provider keeps."""
        return {"api_key": secrets.token_hex(16)}

    @classmethod
    def credentials(cls, account: SandboxAccount) -> dict[str, str]:
        """The credentials dict for ``account``, keyed as the adapter's credential fields."""
        return {"api_key": account.api_key}

    @classmethod
    def segment_price(cls, account: SandboxAccount) -> Decimal:
        return cls.price

    @classmethod
    def voice_price(cls, account: SandboxAccount) -> Decimal:
        return cls.segment_price(account)
