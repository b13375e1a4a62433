"""Conpeek voice SMS emulator, mounted at /sandbox/conpeek/voice_sms_campaign/<id>/request_list
(README.md §5, the only documented Conpeek endpoint).

The documented answers are 200 (accepted), 403 (not allowed: here a missing or wrong key) and
404 (unknown campaign). Everything else is [INFERRED]: a malformed request answers
``400 {"message", "errors": {field: reason}}``, and each accepted request is echoed back as a
``VoiceSMSCampaignRequest`` with the fields we sent plus ``id``, ``status`` and ``created_at``.
Our reference travels in ``custom["reference"]``; without one the ledger uses
``<campaign id>:<number>``.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from django.http import JsonResponse
from django.urls import path

from providers.sandbox import accounts, billing, clock
from providers.sandbox.emulator import Demo, Emulator
from providers.sandbox.http import Reply, endpoint, json_body, not_found
from providers.sandbox.models import SandboxAccount, SandboxCampaign, SandboxMessage

TYPES = {"announcement", "tts", "none"}
NUMBER = re.compile(r"^\d{8,15}$")
FIELDS = ("contact_number", "text", "ssml", "voice_definition_id", "custom")


def _error(status: int, message: str, errors: dict | None = None) -> JsonResponse:
    return JsonResponse({"message": message, "errors": errors or {}}, status=status)


def _rate_limited(_retry_after: int) -> JsonResponse:
    return _error(429, "Too many requests.")  # undocumented


def _authenticate(request) -> SandboxAccount:
    key = request.headers.get("Authorization", "").strip()
    account = key and SandboxAccount.objects.filter(provider="conpeek", api_key=key).first()
    if not account:
        raise Reply(_error(403, "This action is not allowed."))
    return account


def _validate(body) -> tuple[str, str | None, list[dict]]:
    if not isinstance(body, dict):
        raise Reply(_error(400, "The body must be a JSON object."))
    errors = {}
    kind, items = body.get("type"), body.get("data")
    if kind not in TYPES:
        errors["type"] = "Use announcement, tts or none."
    if kind == "announcement" and not body.get("announcement_id"):
        errors["announcement_id"] = "Required when type is announcement."
    if not isinstance(items, list) or not items:
        errors["data"] = "Give at least one request."
        items = []
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        if not isinstance(item.get("contact_number"), str) or not NUMBER.match(
            item["contact_number"]
        ):
            errors[f"data.{i}.contact_number"] = "Digits only, with the country code, no +."
        if kind == "tts" and not (item.get("text") or item.get("ssml")):
            errors[f"data.{i}.text"] = "A tts request needs text or ssml."
        if "custom" in item and not isinstance(item["custom"], dict):
            errors[f"data.{i}.custom"] = "custom must be an object."
    if errors:
        raise Reply(_error(400, "The request is invalid.", errors))
    return kind, body.get("announcement_id"), items


@endpoint(_authenticate, _rate_limited, methods=("POST",), bills=True)
def request_list(request, account, campaign_id):
    campaign = SandboxCampaign.objects.filter(account=account, external_id=campaign_id).first()
    if campaign is None:
        raise Reply(_error(404, "Resource not found."))
    kind, announcement_id, items = _validate(json_body(request, lambda reason: _error(400, reason)))
    now = clock.now()
    _parts, price = billing.price(account, "", channel="voice")
    messages = SandboxMessage.objects.bulk_create(
        SandboxMessage(
            campaign=campaign,
            reference=str((item.get("custom") or {}).get("reference") or "")
            or accounts.implied_reference(campaign.external_id, item["contact_number"]),
            phone=item["contact_number"],
            text=item.get("text") or item.get("ssml") or "",
            price=price,
            params={
                "type": kind,
                "announcement_id": announcement_id,
                **{k: item[k] for k in FIELDS if k in item},
            },
            created_at=now,
        )
        for item in items
    )
    billing.accept(messages, now)
    return JsonResponse({"data": [_request(campaign, m) for m in messages]})


def _request(campaign, message) -> dict:
    return {
        "id": f"{message.pk:024x}",
        "voice_sms_campaign_id": campaign.external_id,
        **message.params,
        "status": "new",
        "created_at": message.created_at.isoformat(),
    }


urlpatterns = [
    path("voice_sms_campaign/<str:campaign_id>/request_list", request_list),
    not_found(lambda path: _error(404, "Not found.")),  # [INFERRED] its error body
]


class ConpeekEmulator(Emulator):
    starting_balance = Decimal("100.0000")
    currency = "PLN"
    price = Decimal("0.1000")  # one voice message
    demo = Demo("Conpeek voice (sandbox)", "PLN", rates={"voice": price})

    @classmethod
    def credentials(cls, account: SandboxAccount) -> dict[str, str]:
        campaign_id = voice_campaign(account).external_id
        # The adapter's base URL is the sandbox mount (…/sandbox/conpeek), so no tenant URL.
        return {"api_key": account.api_key, "tenant_url": "", "voice_campaign_id": campaign_id}


def voice_campaign(account: SandboxAccount) -> SandboxCampaign:
    """The Conpeek voice SMS campaign requests are added to (Conpeek campaigns pre-exist)."""
    campaign = account.campaigns.order_by("pk").first()
    if campaign is None:
        now = clock.now()
        campaign = SandboxCampaign.objects.create(
            account=account,
            external_id=secrets.token_hex(12),
            name=f"{account.name} voice campaign",
            channel="voice",
            launched_at=now,
            created_at=now,
        )
    return campaign
