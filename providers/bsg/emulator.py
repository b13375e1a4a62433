"""BSG One-API (v2) emulator, mounted at /sandbox/bsg/api/… (README.md §2.1), and BSG's
REST SMS status API (v1) at /sandbox/bsg/rest/sms/… (provider-docs/bsg-rest-sms-status.txt).

One-API: JWT-like bearer tokens from ``POST /api/auth/login``; bodies wrapped in
``{"data": …}``; Laravel-style errors ``{"message", "errors"}``. REST: the API key in
``X-API-KEY``; flat bodies with ``error`` and ``errorDescription``. Any other path answers a
JSON 404 in the style of its API. Where the documents are silent the choice is marked
[INFERRED]. Longer than 400 lines because BSG has fifteen endpoints, each with the documented
validation, and splitting them would scatter one wire format over several files.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.urls import path

from providers.sandbox import accounts, billing, clock, delivery
from providers.sandbox.emulator import Demo, DemoCampaign, Emulator
from providers.sandbox.http import Reply, bearer, endpoint, json_body, not_found, parse_when
from providers.sandbox.models import SandboxAccount, SandboxCampaign, SandboxMessage, SenderName

MAX_PHONES = 10_000
CHANNELS = {"sms", "rcs", "viber", "voice", "telegram"}
VOICE_CATEGORIES = {"otp", "transactional", "marketing"}
VOICES = {"ostap", "dariya", "sonya", "amala"}
REFERENCE = re.compile(r"^[A-Za-z0-9]{1,32}$")
SENDER = re.compile(r"^(?:[A-Za-z0-9 ]{3,11}|\d{3,15})$")
# Stage -> MessageStatus. A message cut off by a stop never gets a report: BSG's final
# "unknown" ("no report") is the closest status [INFERRED].
STATUS = {"scheduled": "scheduled", "queued": "accepted", "sent": "sent", "rejected": "failed"}
STATUS |= {"cancelled": "unknown"}
# Stage -> the REST API's SMS status ("view an SMS status" page): a message not yet handed over
# is "scheduled" [INFERRED], one cut off by a stop has no report ("unknown").
REST_STATUS = {"queued": "scheduled", "undelivered": "undeliverable", "cancelled": "unknown"}
# The documented MessageType values; a campaign on another channel (voice, telegram) says "sms",
# the type its messages are billed as [INFERRED].
MESSAGE_TYPES = {"sms", "viber", "hlr", "rcs", "whatsapp"}
COUNTERS = ("delivered", "sent", "scheduled", "moderation", "accepted", "sending", "expired")
COUNTERS += ("failed", "undelivered", "unknown", "read", "not_viber_user", "not_rcs_user")


def _error(status: int, message: str, errors: list | None = None) -> JsonResponse:
    return JsonResponse({"message": message, "errors": errors or []}, status=status)


def _invalid(errors: list[dict]) -> Reply:
    # [INFERRED] errors as a list of {field, message} objects (README.md §2.1.2).
    return Reply(_error(422, "The given data was invalid.", errors))


def _rate_limited(_retry_after: int) -> JsonResponse:
    return JsonResponse({"message": "Too Many Attempts."}, status=429)


def _bad_json(reason: str) -> JsonResponse:
    return _error(400, reason)


def _token_account(request) -> SandboxAccount:
    account = accounts.account_for_token("bsg", bearer(request))
    if account is None:
        raise Reply(_error(401, "Unauthenticated."))
    return account


def _key_account(request) -> SandboxAccount:
    body = json_body(request, _bad_json)
    key = body.get("api_key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        raise _invalid([{"field": "api_key", "message": "The api key field is required."}])
    account = SandboxAccount.objects.filter(provider="bsg", api_key=key).first()
    if account is None:
        raise Reply(_error(401, "Invalid API key."))  # [INFERRED] status and wording
    return account


api = endpoint(_token_account, _rate_limited)


@endpoint(_key_account, _rate_limited, methods=("POST",))
def login(request, account):
    return JsonResponse({"bearer": accounts.issue_token(account)})


@endpoint(_token_account, _rate_limited, methods=("POST",))
def refresh(request, account):
    return JsonResponse({"bearer": accounts.issue_token(account)})


def _phone(value) -> str | None:
    """Digits of a 9-15 digit number given as a string or an int (providers.md conflict 4)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.isdigit() and 9 <= len(value) <= 15:
        return value
    return None


def _check_text(text, field: str, errors: list) -> None:
    """Required; an SMS text is at most 765 GSM-7 or 355 UCS-2 characters (voice: 1000)."""
    if not isinstance(text, str) or not text:
        errors.append({"field": field, "message": f"The {field} field is required."})
    elif field == "voice.text":
        if len(text) > 1000:
            errors.append({"field": field, "message": f"The {field} may not be that long."})
    elif len(text) > (765 if billing.is_gsm7(text) else 355):
        errors.append({"field": field, "message": f"The {field} may not be that long."})


def _check_sender(account, sender, field: str, errors: list) -> None:
    if not isinstance(sender, str) or not SENDER.match(sender):
        errors.append({"field": field, "message": f"The {field} format is invalid."})
    elif not account.senders.filter(name=sender, status=SenderName.Status.APPROVED).exists():
        # [INFERRED] One-API documents no code; legacy REST calls this "sender not allowed".
        errors.append({"field": field, "message": f"The selected {field} is invalid."})


def _check_common(body: dict, errors: list) -> dict:
    validity = body.get("validity", 72)
    if not isinstance(validity, int) or not 1 <= validity <= 72:
        errors.append({"field": "validity", "message": "The validity must be between 1 and 72."})
    start_at = body.get("start_at")
    try:
        # send-individual types start_at as an int 1-72 in the SDK (conflict 9): ignored.
        start_at = parse_when(start_at) if isinstance(start_at, str) else None
    except ValueError:
        errors.append({"field": "start_at", "message": "The start at is not a valid date."})
    if body.get("tariff_code") not in (None, 0):
        raise Reply(_error(422, "Tariff not found"))  # the sandbox has the default tariff only
    return {"validity": validity, "start_at": start_at}


def _check_recipients(items, field: str, number_key: str, errors: list, account) -> list:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_PHONES:
        errors.append({"field": field, "message": f"The {field} must have 1 to 10000 items."})
        return []
    phones, seen = [], set()
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        phone, ref = _phone(item.get(number_key)), item.get("reference_id")
        if phone is None:
            errors.append({"field": f"{field}.{i}.{number_key}", "message": "Invalid number."})
        if ref is not None and (not isinstance(ref, str) or not REFERENCE.match(ref)):
            errors.append({"field": f"{field}.{i}.reference_id", "message": "Invalid format."})
            ref = None
        if ref is not None and ref in seen:
            errors.append({"field": f"{field}.{i}.reference_id", "message": "Duplicate."})
        seen.add(ref)
        phones.append((phone, ref, item))
    seen.discard(None)
    mine = SandboxMessage.objects.filter(campaign__account=account, reference__in=seen)
    taken = set(mine.values_list("reference", flat=True))
    for i, (_number, ref, _item) in enumerate(phones):
        if ref in taken:
            message = "The reference id has already been taken."
            errors.append({"field": f"{field}.{i}.reference_id", "message": message})
    return phones


def _launch(account, *, sender, channel, text, rows, common, params, dry_run=False):
    """Price, check the balance and create + accept the campaign; rows are
    (phone, reference_id or None, text)."""
    priced = [(*row, *billing.price(account, row[2], channel)) for row in rows]
    total = sum((p for *_r, p in priced), Decimal("0"))
    if total > account.balance:
        raise Reply(_error(422, "Insufficient funds on the balance."))  # [INFERRED]
    now = clock.now()
    campaign = SandboxCampaign(
        account=account,
        name=f"API campaign {now:%Y-%m-%d %H:%M:%S}",
        sender=sender,
        text=text,
        channel=channel,
        start_at=common["start_at"],
        launched_at=now,
        params={**params, "validity": common["validity"]},
        created_at=now,
    )
    if dry_run:
        return JsonResponse({"data": _campaign(campaign, [], now, calculated_price=total)})
    try:
        with transaction.atomic():
            campaign.save()
            messages = _create_messages(campaign, priced, now)
            billing.accept(messages, now)
    except IntegrityError:  # a concurrent request took one of these references first
        error = {"field": "reference_id", "message": "The reference id has already been taken."}
        raise _invalid([error]) from None
    stages = billing.campaign_stages(campaign, now)
    return JsonResponse({"data": _campaign(campaign, stages, now, calculated_price=total)})


def _create_messages(campaign, priced, now) -> list[SandboxMessage]:
    return SandboxMessage.objects.bulk_create(
        SandboxMessage(
            campaign=campaign,
            reference=ref or uuid.uuid4().hex,
            account=campaign.account,
            client_reference=ref,
            phone=phone,
            text=msg_text,
            segments=parts,
            price=price,
            params={"reference_id": ref},
            created_at=now,
        )
        for phone, ref, msg_text, parts, price in priced
    )


@endpoint(_token_account, _rate_limited, methods=("POST",), bills=True)
def campaign_send(request, account):
    body = json_body(request, _bad_json)
    body = body if isinstance(body, dict) else {}
    errors: list[dict] = []
    channels = body.get("channels")
    if not isinstance(channels, list) or not 1 <= len(channels) <= 2:
        errors.append({"field": "channels", "message": "The channels must have 1 or 2 items."})
        channels = []
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        errors.append({"field": "channels", "message": f"Unknown channel {unknown[0]}."})
    elif channels and channels[0] not in ("sms", "voice"):
        errors.append({"field": "channels", "message": "The sandbox sends sms and voice only."})
    recipients = body.get("recipients") or {}
    if isinstance(recipients, dict) and "groups" in recipients:
        errors.append({"field": "recipients.groups", "message": "The sandbox has no groups."})
        recipients = {"phones": []}
    phones = recipients.get("phones") if isinstance(recipients, dict) else None
    rows = _check_recipients(phones, "recipients.phones", "number", errors, account)
    channel = channels[0] if channels else "sms"
    content = body.get(channel) if isinstance(body.get(channel), dict) else {}
    if channel == "voice":
        _check_voice(content, errors)
        sender = content.get("sender") or ""
    else:
        _check_sender(account, content.get("sender"), "sms.sender", errors)
        sender = content.get("sender")
    _check_text(content.get("text"), f"{channel}.text", errors)
    common = _check_common(body, errors)
    if errors:
        raise _invalid(errors)
    text = content["text"]
    params = {"voice": content} if channel == "voice" else {}
    rows = [(phone, ref, text) for phone, ref, _item in rows]
    dry_run = bool(body.get("dry_run"))
    return _launch(
        account,
        sender=sender,
        channel=channel,
        text=text,
        rows=rows,
        common=common,
        params=params,
        dry_run=dry_run,
    )


def _check_voice(voice: dict, errors: list) -> None:
    if voice.get("category") not in VOICE_CATEGORIES:
        errors.append({"field": "voice.category", "message": "The voice.category is invalid."})
    if voice.get("voice") is not None and voice["voice"] not in VOICES:
        errors.append({"field": "voice.voice", "message": "The voice.voice is invalid."})


@endpoint(_token_account, _rate_limited, methods=("POST",), bills=True)
def send_individual(request, account):
    body = json_body(request, _bad_json)
    body = body if isinstance(body, dict) else {}
    errors: list[dict] = []
    items = body.get("messages")
    rows = _check_recipients(items, "messages", "phone", errors, account)
    senders = []
    for i, (_number, _ref, item) in enumerate(rows):
        _check_sender(account, item.get("sender"), f"messages.{i}.sender", errors)
        _check_text(item.get("text"), f"messages.{i}.text", errors)
        senders.append(item.get("sender"))
    common = _check_common(body, errors)
    if errors:
        raise _invalid(errors)
    rows = [(phone, ref, item["text"]) for phone, ref, item in rows]
    return _launch(
        account, sender=senders[0], channel="sms", text="", rows=rows, common=common, params={}
    )


@endpoint(_token_account, _rate_limited, methods=("POST",))
def price(request, account):
    body = json_body(request, _bad_json)
    body = body if isinstance(body, dict) else {}
    errors: list[dict] = []
    _check_sender(account, body.get("sender"), "sender", errors)
    _check_text(body.get("text"), "text", errors)
    if body.get("groups"):
        errors.append({"field": "groups", "message": "The sandbox has no contact lists."})
    messages = body.get("messages") or []
    phones = [_phone(m.get("phone")) if isinstance(m, dict) else None for m in messages]
    for i, phone in enumerate(phones):
        if phone is None:
            errors.append({"field": f"messages.{i}.phone", "message": "Invalid number."})
    if body.get("tariff_code") not in (None, 0):
        raise Reply(_error(422, "Tariff not found"))
    if errors:
        raise _invalid(errors)
    _parts, one = billing.price(account, body["text"])
    return JsonResponse({"price": float(one * len(phones)), "currency": account.currency})


def _ts(value):
    return value.isoformat() if value else None


def _finished_at(campaign, stages):
    if campaign.stopped_at:
        return campaign.stopped_at
    if not stages or any(stage not in delivery.FINAL for _m, stage in stages):
        return None
    return max(
        delivery.final_at(m.reference, billing.message_start(m, campaign)) for m, _s in stages
    )


def _status(campaign, stages, now) -> str:
    if campaign.stopped_at:
        return "stopped"
    if campaign.start_at and campaign.start_at > now:
        return "scheduled"
    done = stages and all(stage in delivery.FINAL for _m, stage in stages)
    return "done" if done else "sending"


def _statistics(stages) -> dict:
    counts = dict.fromkeys(COUNTERS, 0)
    for _m, stage in stages:
        counts[STATUS.get(stage, stage)] += 1
    return counts


def _campaign(campaign, stages, now, calculated_price=None) -> dict:
    counts = _statistics(stages)
    handed_over = sum(counts[s] for s in ("sent", "delivered", "undelivered", "expired"))
    real_start = campaign.start_at or campaign.launched_at
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "sender": campaign.sender,
        "status": _status(campaign, stages, now),
        "message_type": _message_type(campaign),
        "start_at": _ts(campaign.start_at),
        "real_start_at": _ts(real_start if real_start and real_start <= now else None),
        "finished_at": _ts(_finished_at(campaign, stages)),
        "created_at": _ts(campaign.created_at),
        # "sent" counts every message handed over to an operator [INFERRED].
        "statistics": {"delivered": counts["delivered"], "sent": handed_over},
        "calculated_price": float(calculated_price) if calculated_price is not None else None,
        "currency": campaign.account.currency,
    }


def _message_type(campaign) -> str:
    return campaign.channel if campaign.channel in MESSAGE_TYPES else "sms"


def _own_campaign(account, pk) -> SandboxCampaign:
    campaign = SandboxCampaign.objects.filter(account=account, pk=pk).first()
    if campaign is None:
        raise Reply(_error(404, "Campaign not found."))
    return campaign


@api
def campaign_get(request, account, pk):
    campaign, now = _own_campaign(account, pk), clock.now()
    return JsonResponse({"data": _campaign(campaign, billing.campaign_stages(campaign, now), now)})


@api
def campaign_detail(request, account, pk):
    campaign, now = _own_campaign(account, pk), clock.now()
    stages = billing.campaign_stages(campaign, now)
    summary = _campaign(campaign, stages, now)
    total = sum(billing.charged(campaign).values(), Decimal("0"))  # refunds deducted
    data = {
        "id": campaign.pk,
        "name": campaign.name,
        "sender": campaign.sender,
        "status": summary["status"],
        "type": _message_type(campaign),
        "started_at": summary["start_at"],
        "actual_start_at": summary["real_start_at"],
        "finished_at": summary["finished_at"],
        "created_at": summary["created_at"],
        "statistics": _statistics(stages),
        "alternative_channels": {"sms": {"statistics": dict.fromkeys(COUNTERS, 0)}},
        "total_messages": sum(m.segments for m, _s in stages),
        "total_phones": len(stages),
        "total_price": f"{total:.4f}",
        "currency": account.currency,
    }
    return JsonResponse({"data": data})


@endpoint(_token_account, _rate_limited, methods=("PATCH",))
def campaign_stop(request, account, pk):
    campaign, now = _own_campaign(account, pk), clock.now()
    stages = billing.campaign_stages(campaign, now)
    if _status(campaign, stages, now) not in ("scheduled", "sending", "paused", "moderation"):
        raise Reply(_error(422, "Invalid campaign status."))
    campaign.stopped_at = now
    campaign.save(update_fields=["stopped_at"])
    billing.refund_unsent(campaign, now)
    return JsonResponse({"data": _campaign(campaign, billing.campaign_stages(campaign, now), now)})


def _page(request, default_limit: int) -> tuple[int, int]:
    try:
        offset = int(request.GET.get("page[offset]", 0))
        limit = int(request.GET.get("page[limit]", default_limit))
    except ValueError:
        raise _invalid([{"field": "page", "message": "The page must be integers."}]) from None
    # The SDK demands 30 (campaigns) / 15 (messages) at least, the seed no minimum
    # (conflict 3): anything from 1 to 500 is accepted.
    if offset < 0 or not 1 <= limit <= 500:
        raise _invalid([{"field": "page[limit]", "message": "The limit must be 1 to 500."}])
    return offset, limit


def _filter_dates(queryset, request):
    for key, lookup in (("filter[from]", "created_at__gte"), ("filter[to]", "created_at__lte")):
        if key in request.GET:
            try:
                queryset = queryset.filter(**{lookup: parse_when(request.GET[key])})
            except ValueError:
                raise _invalid([{"field": key, "message": "Not a valid date."}]) from None
    return queryset


def _sorted(queryset, request, fields: set[str]):
    sort = request.GET.get("sort", "id")
    way = request.GET.get("way", "asc")
    if sort not in fields or way not in ("asc", "desc"):
        raise _invalid([{"field": "sort", "message": "The sort or way is invalid."}])
    return queryset.order_by(("-" if way == "desc" else "") + ("pk" if sort == "id" else sort))


def _meta(total: int, limit: int, offset: int) -> dict:
    return {"page": {"total": total, "limit": limit, "offset": offset}}


@api
def campaign_list(request, account):
    offset, limit = _page(request, 50)
    campaigns = _filter_dates(SandboxCampaign.objects.filter(account=account), request)
    if "filter[type]" in request.GET:
        campaigns = campaigns.filter(channel=request.GET["filter[type]"])
    field, value = request.GET.get("search[field]"), request.GET.get("search[value]")
    if field in ("name", "sender") and value:
        campaigns = campaigns.filter(**{f"{field}__icontains": value})
    campaigns = _sorted(campaigns, request, {"id", "name", "created_at"})
    now = clock.now()
    page = [
        _campaign(c, billing.campaign_stages(c, now), now)
        for c in campaigns[offset : offset + limit]
    ]
    return JsonResponse({"data": page, "meta": _meta(campaigns.count(), limit, offset)})


def _message(message, campaign, now) -> dict:
    stage = billing.message_stage(message, campaign, now)
    start = billing.message_start(message, campaign)
    plan = delivery.plan(message.reference)
    sent = stage in ("sent", "delivered", "undelivered", "expired")
    return {
        "id": message.pk,
        "campaign_id": campaign.pk,
        "reference_id": message.params.get("reference_id"),
        "type": "sms",
        "source": "rest",
        "text": message.text,
        "phone": int(message.phone),
        "validity": campaign.params.get("validity", 72),
        "status": STATUS.get(stage, stage),
        "amount": {"value": f"{message.price:.7f}", "currency": campaign.account.currency},
        "sender": campaign.sender,
        "created_at": _ts(message.created_at),
        "sent_at": _ts(start + timedelta(seconds=plan.sent_after) if sent else None),
        "delivered_at": _ts(delivery.final_at(message.reference, start))
        if stage == "delivered"
        else None,
        "country": None,
        "parts": message.segments,
    }


@api
def messages(request, account):
    offset, limit = _page(request, 50)
    found = SandboxMessage.objects.filter(campaign__account=account).select_related(
        "campaign__account"
    )
    filters = {"filter[id]": "pk", "filter[campaign_id]": "campaign_id"}
    filters["filter[reference_id]"] = "reference"
    for key, field in filters.items():
        if key in request.GET:
            found = found.filter(**{field: request.GET[key]})
    found = _sorted(_filter_dates(found, request), request, {"id", "created_at"})
    now = clock.now()
    page = [_message(m, m.campaign, now) for m in found[offset : offset + limit]]
    return JsonResponse({"data": page, "meta": _meta(found.count(), limit, offset)})


@api
def balance(request, account):
    account.refresh_from_db(fields=["balance"])
    data = {"balance": float(account.balance), "currency": account.currency, "credit": 0}
    return JsonResponse({"data": data})


SENDER_STATUS = {"approved": "active", "pending": "registering", "blocked": "blocked"}


@api
def senders(request, account):
    kind = request.GET.get("type")
    if not kind:
        raise _invalid([{"field": "type", "message": "The type field is required."}])
    names = list(account.senders.order_by("pk")) if kind == "sms" else []
    data = [
        {
            "id": s.pk,
            "status": SENDER_STATUS[s.status],
            "country": s.country or None,
            "sender": s.name,
            "created_at": _ts(s.created_at),
            "is_default": i == 0,
        }
        for i, s in enumerate(names)
    ]
    return JsonResponse({"data": data, "total": len(data)})


# --- REST SMS status API (v1) ----------------------------------------------------------------


def _rest_error(status: int, code: int, description: str) -> JsonResponse:
    # [INFERRED] HTTP statuses: the page documents only the body.
    return JsonResponse({"error": str(code), "errorDescription": description}, status=status)


def _rest_account(request) -> SandboxAccount:
    key = request.headers.get("X-API-KEY", "")
    account = SandboxAccount.objects.filter(provider="bsg", api_key=key).first() if key else None
    if account is None:
        raise Reply(_rest_error(401, 401, "Invalid API key"))  # [INFERRED] code and wording
    return account


def _rest_rate_limited(_retry_after: int) -> JsonResponse:
    return JsonResponse({"message": "Too Many Attempts."}, status=429)


rest = endpoint(_rest_account, _rest_rate_limited)


def _rest_sms(message, campaign, now) -> dict:
    stage = billing.message_stage(message, campaign, now)
    start = billing.message_start(message, campaign)
    sent = stage in ("sent", "delivered", "undelivered", "expired")
    final = stage in delivery.FINAL and start is not None
    return {
        "error": 0,
        "errorDescription": "No errors",
        "id": str(message.pk),
        "msisdn": message.phone.lstrip("+"),
        "reference": message.reference,
        "time_in": _rest_ts(message.created_at),
        "time_sent": _rest_ts(start if sent else None),
        "time_dr": _rest_ts(delivery.final_at(message.reference, start) if final else None),
        "status": REST_STATUS.get(stage, stage),
        "price": f"{message.price:.7f}",
        "currency": campaign.account.currency,
    }


def _rest_ts(value) -> str | None:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else None


def _rest_message(account, **lookup) -> JsonResponse:
    messages = SandboxMessage.objects.filter(campaign__account=account, **lookup)
    message = messages.select_related("campaign__account").first()
    if message is None:
        return _rest_error(404, 20, "SMS not found")
    return JsonResponse(_rest_sms(message, message.campaign, clock.now()))


@rest
def rest_sms(request, account, pk):
    return _rest_message(account, pk=pk)


@rest
def rest_sms_by_reference(request, account, reference):
    if not REFERENCE.match(reference):
        return _rest_error(400, 27, "Invalid external ID")
    return _rest_message(account, reference=reference)


@rest
def rest_task(request, account, pk):
    campaign = SandboxCampaign.objects.filter(account=account, pk=pk).first()
    if campaign is None:
        return _rest_error(404, 30, "Task not found")
    stages = billing.campaign_stages(campaign, clock.now())
    counts = Counter(REST_STATUS.get(stage, stage) for _m, stage in stages)
    total = sum(billing.charged(campaign).values(), Decimal("0"))
    body = {
        "originator": campaign.sender,
        "body": stages[0][0].text if stages else "",
        "validity": campaign.params.get("validity", 72),
        "totalprice": float(total),
        "currency": account.currency,
    }
    body |= {raw: counts[raw] for raw in ("sent", "delivered", "expired", "undeliverable")}
    # "unknown": no delivery report, which a message not yet handed over has not either.
    return JsonResponse(body | {"unknown": counts["unknown"] + counts["scheduled"]})


def _not_found(path: str) -> JsonResponse:
    if path.startswith("rest/"):
        return _rest_error(404, 404, "Not found")  # [INFERRED]
    return _error(404, "Not found.")


urlpatterns = [
    path("rest/sms/task/<int:pk>", rest_task),
    path("rest/sms/reference/<str:reference>", rest_sms_by_reference),
    path("rest/sms/<int:pk>", rest_sms),
    path("api/auth/login", login),
    path("api/auth/refresh", refresh),
    path("api/campaigns/send", campaign_send),
    path("api/campaigns/sms/send-individual", send_individual),
    path("api/campaigns/price", price),
    path("api/campaigns", campaign_list),
    path("api/campaigns/<int:pk>", campaign_get),
    path("api/campaigns/<int:pk>/detail", campaign_detail),
    path("api/campaigns/<int:pk>/stop", campaign_stop),
    path("api/messages", messages),
    path("api/accounts/balance", balance),
    path("api/senders", senders),
    not_found(_not_found),
]


VOICE_PRICE = Decimal("0.0600")  # one call


class BSGEmulator(Emulator):
    starting_balance = Decimal("100.0000")
    price = Decimal("0.0350")
    demo = Demo(
        "BSG (sandbox)",
        "EUR",
        rates={"sms": price, "voice": VOICE_PRICE},
        history=(
            DemoCampaign("Autumn sale (demo)", 9, 600, 92, "0.035"),
            DemoCampaign("Loyalty reminder (demo)", 1, 900, 88, "0.035"),
        ),
    )

    @classmethod
    def new_account(cls, name: str) -> dict:
        return {"api_key": "live_" + secrets.token_hex(10)}

    @classmethod
    def voice_price(cls, account: SandboxAccount) -> Decimal:
        return VOICE_PRICE
