"""The sandbox's Fakesms, served at /sandbox/fake/: the account, a batch, a batch's statuses."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.http import JsonResponse
from django.urls import path

from providers.sandbox import billing, clock
from providers.sandbox.emulator import Demo, Emulator
from providers.sandbox.http import Reply, endpoint, json_body, not_found
from providers.sandbox.models import SandboxAccount, SandboxCampaign, SandboxMessage


def _authenticate(request) -> SandboxAccount:
    key = request.headers.get("X-Key", "")
    account = SandboxAccount.objects.filter(provider="fake", api_key=key).first() if key else None
    if account is None:
        raise Reply(JsonResponse({"error": "Unknown key."}, status=401))
    return account


def _rate_limited(_retry_after: int) -> JsonResponse:
    return JsonResponse({"error": "Slow down."}, status=429)


@endpoint(_authenticate, _rate_limited)
def account(request, account):
    senders = [{"name": s.name, "status": s.status} for s in account.senders.order_by("pk")]
    return JsonResponse(
        {"balance": str(account.balance), "currency": account.currency, "senders": senders}
    )


@endpoint(_authenticate, _rate_limited, methods=("POST",), bills=True)
def batches(request, account):
    body = json_body(request, lambda reason: JsonResponse({"error": reason}, status=400))
    now = clock.now()
    campaign = SandboxCampaign.objects.create(
        account=account,
        external_id=secrets.token_hex(8),
        sender=body["sender"],
        launched_at=now,
        created_at=now,
    )
    messages = []
    for item in body["to"]:
        parts, price = billing.price(account, item["text"])
        messages.append(
            SandboxMessage(
                campaign=campaign,
                reference=item["ref"],
                phone=item["phone"],
                text=item["text"],
                segments=parts,
                price=price,
                created_at=now,
            )
        )
    messages = SandboxMessage.objects.bulk_create(messages)
    billing.accept(messages, now)
    ids = {m.reference: str(m.pk) for m in messages}
    return JsonResponse({"batch": campaign.external_id, "ids": ids})


@endpoint(_authenticate, _rate_limited)
def batch(request, account, batch_id):
    campaign = SandboxCampaign.objects.filter(account=account, external_id=batch_id).first()
    if campaign is None:
        raise Reply(JsonResponse({"error": "No such batch."}, status=404))
    stages = billing.campaign_stages(campaign, clock.now())
    items = [{"id": str(m.pk), "ref": m.reference, "status": stage} for m, stage in stages]
    return JsonResponse({"messages": items})


urlpatterns = [
    path("account", account),
    path("batches", batches),
    path("batches/<str:batch_id>", batch),
    not_found(lambda path: JsonResponse({"error": "Not found."}, status=404)),
]


class FakeEmulator(Emulator):
    starting_balance = Decimal("500.0000")
    price = Decimal("0.0200")
    demo = Demo("Fakesms (sandbox)", "EUR", rates={"sms": price})
