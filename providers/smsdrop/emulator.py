"""smsdrop emulator, mounted at /sandbox/smsdrop/api/… (SDK 1.0.0 paths, README.md §4).

The server behind the SDK looks like FastAPI + fastapi-users, so the undocumented shapes follow
those defaults [INFERRED]: login answers ``{"access_token", "token_type"}`` or
``400 {"detail": "LOGIN_BAD_CREDENTIALS"}``, a bad token ``401 {"detail": "Unauthorized"}``,
validation ``422 {"detail": [{"loc", "msg", "type"}]}``, an unknown id ``404``.

Credits (``nbr_sms``) are debited one per SMS part per recipient. A campaign the credits do not
cover is created but not launched (HTTP 201, status PENDING) until ``retry`` finds enough.
smsdrop carries no per-message reference: the ledger uses ``title:phone``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal

from django.http import JsonResponse
from django.urls import path, re_path
from django.utils.text import slugify

from providers.sandbox import accounts, billing, clock, delivery
from providers.sandbox.emulator import Demo, Emulator
from providers.sandbox.http import Reply, bearer, endpoint, json_body, not_found, parse_when
from providers.sandbox.models import SandboxAccount, SandboxCampaign, SandboxMessage

PHONE = re.compile(r"^\+?\d{8,15}$")
ALPHANUMERIC_SENDER = 11
NUMERIC_SENDER = 18


def _rate_limited(_retry_after: int) -> JsonResponse:
    return JsonResponse({"detail": "Too Many Requests"}, status=429)  # undocumented


def _invalid(errors: list[tuple[tuple, str, str]]) -> Reply:
    detail = [{"loc": ["body", *loc], "msg": msg, "type": kind} for loc, msg, kind in errors]
    return Reply(JsonResponse({"detail": detail}, status=422))


def _bad_json(reason: str) -> JsonResponse:
    detail = [{"loc": ["body"], "msg": reason, "type": "value_error.jsondecode"}]
    return JsonResponse({"detail": detail}, status=422)


def _login_account(request) -> SandboxAccount:
    account = SandboxAccount.objects.filter(
        provider="smsdrop",
        email__iexact=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    ).first()
    if account is None or not request.POST.get("password"):
        raise Reply(JsonResponse({"detail": "LOGIN_BAD_CREDENTIALS"}, status=400))
    return account


def _token_account(request) -> SandboxAccount:
    account = accounts.account_for_token("smsdrop", bearer(request))
    if account is None:
        raise Reply(JsonResponse({"detail": "Unauthorized"}, status=401))
    return account


@endpoint(_login_account, _rate_limited, methods=("POST",))
def login(request, account):
    return JsonResponse({"access_token": accounts.issue_token(account), "token_type": "bearer"})


def _validate(body) -> dict:
    if not isinstance(body, dict):
        raise _invalid([((), "value is not a valid dict", "type_error.dict")])
    errors = []
    message, sender = body.get("message"), body.get("sender")
    if not isinstance(message, str) or not message:
        errors.append((("message",), "field required", "value_error.missing"))
    if not isinstance(sender, str) or not sender:
        errors.append((("sender",), "field required", "value_error.missing"))
    elif len(sender) > (NUMERIC_SENDER if sender.isdigit() else ALPHANUMERIC_SENDER):
        errors.append((("sender",), "sender is too long", "value_error.any_str.max_length"))
    recipients = body.get("recipient_list")
    if not isinstance(recipients, list) or not recipients:
        errors.append((("recipient_list",), "ensure this value has at least 1 items", "value"))
        recipients = []
    for i, phone in enumerate(recipients):
        if not isinstance(phone, str) or not PHONE.match(phone):
            errors.append((("recipient_list", i), "invalid phone number", "value_error.phone"))
    if body.get("message_type", 0) not in (0, 1, 2, None):
        errors.append((("message_type",), "value is not a valid enumeration member", "enum"))
    start = _start(body, errors)
    if errors:
        raise _invalid(errors)
    return {"phones": [p.lstrip("+") for p in recipients], "start_at": start}


def _start(body: dict, errors: list):
    defer_until, defer_by = body.get("defer_until"), body.get("defer_by")
    if defer_until and defer_by:
        errors.append((("defer_until",), "use defer_until or defer_by, not both", "value"))
        return None
    if defer_by:
        if not isinstance(defer_by, int) or defer_by < 0:
            errors.append((("defer_by",), "value is not a valid integer", "type_error.integer"))
            return None
        return clock.now() + timedelta(seconds=defer_by)
    if defer_until:
        try:
            return parse_when(defer_until)
        except (TypeError, ValueError):
            errors.append((("defer_until",), "invalid datetime format", "value_error.datetime"))
    return None


def _launch(request, account):
    """Create the campaign and launch it if the credits allow (POST /api/campaigns/)."""
    body = json_body(request, _bad_json)
    valid = _validate(body)
    now = clock.now()
    title = body.get("title") or f"Campaign {uuid.uuid4().hex[:8]}"  # "random if absent"
    campaign = SandboxCampaign.objects.create(
        account=account,
        external_id=str(uuid.uuid4()),
        name=title,
        sender=body["sender"],
        text=body["message"],
        start_at=valid["start_at"],
        params={"message_type": body.get("message_type") or 0},
        created_at=now,
    )
    parts, price = billing.price(account, body["message"])
    SandboxMessage.objects.bulk_create(
        SandboxMessage(
            campaign=campaign,
            reference=accounts.implied_reference(title, phone),
            phone=phone,
            text=body["message"],
            segments=parts,
            price=price,
            created_at=now,
        )
        for phone in valid["phones"]
    )
    return _try_launch(campaign, now)


def _try_launch(campaign, now) -> JsonResponse:
    """Launch if the credits cover it (200); otherwise leave it created, not launched (201)."""
    if not campaign.launched_at:
        messages = list(campaign.messages.all())
        campaign.account.refresh_from_db(fields=["balance"])
        if sum(m.price for m in messages) > campaign.account.balance:
            return JsonResponse(_campaign(campaign, now), status=201)
        campaign.launched_at = now
        campaign.save(update_fields=["launched_at"])
        billing.accept(messages, now)
    return JsonResponse(_campaign(campaign, now))


def _status(campaign, stages, now) -> str:
    if not campaign.launched_at:
        return "PENDING"
    if campaign.start_at and campaign.start_at > now:
        return "SCHEDULED"
    return "COMPLETED" if all(s in delivery.FINAL for _m, s in stages) else "SENDING"


def _campaign(campaign, now) -> dict:
    stages = billing.campaign_stages(campaign, now)
    delivered = sum(1 for _m, stage in stages if stage == "delivered")
    return {
        "id": campaign.external_id,
        "title": campaign.name,
        "message": campaign.text,
        "message_type": campaign.params.get("message_type", 0),
        "sender": campaign.sender,
        "recipient_list": ["+" + m.phone for m, _s in stages],
        "defer_until": campaign.start_at.isoformat() if campaign.start_at else None,
        "defer_by": None,
        "delivery_percentage": delivered * 100 // len(stages) if stages else 0,
        "message_count": len(stages),
        "sms_count": stages[0][0].segments if stages else 1,
        "status": _status(campaign, stages, now),
        "created_at": campaign.created_at.isoformat(),
    }


def _own(account, external_id) -> SandboxCampaign:
    campaign = SandboxCampaign.objects.filter(account=account, external_id=external_id).first()
    if campaign is None:
        raise Reply(JsonResponse({"detail": "Not Found"}, status=404))
    return campaign


@endpoint(_token_account, _rate_limited, methods=("POST",), bills=True)
def retry(request, account):
    body = json_body(request, _bad_json)
    campaign_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(campaign_id, str):
        raise _invalid([(("id",), "field required", "value_error.missing")])
    return _try_launch(_own(account, campaign_id), clock.now())


@endpoint(
    _token_account,
    _rate_limited,
    methods=("GET", "POST"),
    bills=lambda request: request.method == "POST",
)
def campaigns(request, account):
    if request.method == "POST":
        return _launch(request, account)
    try:
        skip = int(request.GET.get("skip", 0))
        limit = int(request.GET.get("limit", 100))
    except ValueError:
        detail = [{"loc": ["query", "skip"], "msg": "value is not a valid integer", "type": "int"}]
        raise Reply(JsonResponse({"detail": detail}, status=422)) from None
    now = clock.now()
    found = account.campaigns.order_by("created_at", "pk")[skip : skip + limit]
    return JsonResponse([_campaign(c, now) for c in found], safe=False)


@endpoint(_token_account, _rate_limited)
def campaign(request, account, external_id):
    return JsonResponse(_campaign(_own(account, external_id), clock.now()))


@endpoint(_token_account, _rate_limited)
def me(request, account):
    return JsonResponse(
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-smsdrop-{account.pk}")),
            "email": account.email,
            "is_active": True,
            "is_verified": True,
            "is_superuser": False,
        }
    )


@endpoint(_token_account, _rate_limited)
def subscription(request, account):
    account.refresh_from_db(fields=["balance"])
    return JsonResponse(
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-smsdrop-sub-{account.pk}")),
            "nbr_sms": int(account.balance),
            "created_at": account.created_at.isoformat(),
        }
    )


# Trailing slashes as the SDK sends them, and without (APPEND_SLASH cannot redirect a POST).
urlpatterns = [
    path("api/auth/login", login),
    re_path(r"^api/campaigns/?$", campaigns),
    re_path(r"^api/campaigns/retry/?$", retry),
    re_path(r"^api/campaigns/(?P<external_id>[^/]+)/?$", campaign),
    re_path(r"^api/users/me/?$", me),
    re_path(r"^api/subscriptions/?$", subscription),
    not_found(lambda path: JsonResponse({"detail": "Not Found"}, status=404)),  # FastAPI's
]


class SmsdropEmulator(Emulator):
    starting_balance = Decimal("10000")  # credits
    currency = ""
    price = Decimal("1")  # credit per SMS part
    # Credits: no money rate describes them, so the demo account has none.
    demo = Demo("smsdrop (sandbox)", "XOF")

    @classmethod
    def new_account(cls, name: str) -> dict:
        local = slugify(name) or "account"
        return {"email": f"{local}@smsdrop.sandbox.test", "password": secrets.token_urlsafe(12)}

    @classmethod
    def credentials(cls, account: SandboxAccount) -> dict[str, str]:
        return {"email": account.email, "password": account.password}
