"""The sandbox's Python API: provision demo accounts, read the charge ledger, issue tokens.

``provision(slug, name=...)`` returns the credentials dict an adapter needs to authenticate
against the sandbox; ``charges(reference)`` says how many times a reference was billed.
"""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.db.models import Count

from providers import registry
from providers.sandbox.models import Charge, SandboxAccount, SenderName

DEMO_SENDERS = (
    ("Crier", SenderName.Status.APPROVED),
    ("CrierDemo", SenderName.Status.APPROVED),
    ("CrierNew", SenderName.Status.PENDING),
)
TOKEN_MAX_AGE = 3600  # seconds; BSG and smsdrop document no lifetime, an hour is typical


def provision(slug: str, *, name: str = "Demo") -> dict[str, str]:
    """The credentials of the sandbox account ``name`` at provider ``slug``, creating it (with a
    healthy balance, two approved sender names and one pending) if needed."""
    try:
        emulator = registry.emulator(slug)
    except registry.UnknownProvider:
        raise ValueError(f"The sandbox has no provider {slug!r}.") from None
    with transaction.atomic():
        account, created = SandboxAccount.objects.get_or_create(
            provider=slug,
            name=name,
            defaults={
                "balance": emulator.starting_balance,
                "currency": emulator.currency,
                **emulator.new_account(name),
            },
        )
        if created:
            SenderName.objects.bulk_create(
                SenderName(account=account, name=sender, status=status)
                for sender, status in DEMO_SENDERS
            )
    return credentials(account)


def credentials(account: SandboxAccount) -> dict[str, str]:
    """The credentials dict for ``account``, keyed as the adapter's credential fields are."""
    return registry.emulator(account.provider).credentials(account)


def charges(reference: str, *, account: SandboxAccount | None = None) -> int:
    """How many times ``reference`` was accepted and billed (refunded charges do not count)."""
    ledger = Charge.objects.active().filter(reference=reference)
    if account is not None:
        ledger = ledger.filter(account=account)
    return ledger.count()


def charged_more_than_once(account: SandboxAccount | None = None) -> dict[str, int]:
    """{reference: times} for every reference billed twice or more: empty when nothing was
    sent twice."""
    ledger = Charge.objects.active()
    if account is not None:
        ledger = ledger.filter(account=account)
    rows = ledger.values("reference").annotate(n=Count("pk")).filter(n__gt=1)
    return {row["reference"]: row["n"] for row in rows}


def implied_reference(tag: str, phone: str) -> str:
    """The ledger reference for providers whose wire carries no per-message reference
    (Mobizon without a ``reference`` item key, smsdrop): the campaign tag (Mobizon
    ``data[name]``, smsdrop ``title``) and the phone, so re-creating a campaign under the same
    tag shows up as a second charge."""
    return f"{tag}:{phone}"


def issue_token(account: SandboxAccount) -> str:
    return signing.dumps(
        {"a": account.pk, "v": account.token_version}, salt=f"sandbox.{account.provider}"
    )


def account_for_token(provider: str, token: str) -> SandboxAccount | None:
    """The account a bearer token was issued to; None when forged, expired or revoked."""
    try:
        claims = signing.loads(token, salt=f"sandbox.{provider}", max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return SandboxAccount.objects.filter(
        pk=claims.get("a"), provider=provider, token_version=claims.get("v")
    ).first()
