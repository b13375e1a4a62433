"""Mobizon emulator, mounted at /sandbox/mobizon/service/<Module>/<Method> (README.md §3).

``apiKey`` in the query; form bodies with PHP bracket keys; every answer is the
``{code, data, message}`` envelope with HTTP 200 and numbers as strings, as the real API does
(API errors arrive as HTTP 200 with a non-zero code: providers.md conflict 18, [INFERRED]).
Module and method names are case-insensitive (conflict 17). A JSON body is not read, as the
documented API reads forms only (conflict 16).

The regional domain: a request may name the API host it was meant for as a path segment
(…/sandbox/mobizon/api.mobizon.uz/service/…). When that host differs from the account's domain
the answer is code 13 with the right host in ``data``, which is what the docs say the real
servers do; without a named host the sandbox cannot tell and serves the request.

Longer than 400 lines: nine methods of four API modules, each with the documented validation
and envelope, and splitting them would scatter one wire format over several files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.http import JsonResponse
from django.urls import path

from providers.sandbox import accounts, billing, clock, delivery
from providers.sandbox.brackets import parse_brackets
from providers.sandbox.emulator import Demo, DemoCampaign, Emulator
from providers.sandbox.http import Reply, endpoint, not_found
from providers.sandbox.models import SandboxAccount, SandboxCampaign, SandboxMessage, SenderName

API_KEY = re.compile(r"^(?:[A-Za-z0-9]{40}|[A-Za-z0-9]{70})$")
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_-]+)\}")
MAX_RECIPIENTS = 500
MAX_IDS = 100
SOURCES = ("recipients", "recipientContacts", "recipientGroups", "recipientsFile")
# Stage -> SMS status. Messages of a campaign not sent yet are NEW, and stay NEW when the
# campaign is deleted before its start (DELETED means removed by an operator, not by us).
STATUS = {"scheduled": "NEW", "queued": "ENQUEUD", "sent": "ACCEPTD", "delivered": "DELIVRD"}
STATUS |= {"undelivered": "UNDELIV", "expired": "EXPIRED", "rejected": "REJECTD"}
STATUS |= {"cancelled": "NEW"}
COUNTER_NAMES = ("New", "Enqueud", "Acceptd", "Delivrd", "Rejectd", "Expired", "Undeliv")
COUNTER_NAMES += ("Deleted", "Unknown", "Pdlivrd")


class Envelope(JsonResponse):
    def __init__(self, code: int = 0, data="", message: str = ""):
        super().__init__({"code": code, "data": data, "message": message}, safe=False)
        # Nothing was done: faults.run must not crash or garble "after the work".
        self.sandbox_error = code not in (0, 98, 100)


def _fail(code: int, message: str, data="") -> Reply:
    return Reply(Envelope(code, data, message))


def _rate_limited(_retry_after: int) -> Envelope:
    return Envelope(30, "", "Too many requests to this method. Please try again later.")


def _authenticate(request) -> SandboxAccount:
    key = request.GET.get("apiKey", "")
    account = None
    if API_KEY.match(key):
        account = SandboxAccount.objects.filter(provider="mobizon", api_key=key).first()
    if account is None:
        raise _fail(8, "Authorization failed: the API key is wrong or missing.")
    host = _requested_host(request)
    if host and host != f"api.{account.domain}":
        raise _fail(13, "Use the API server of your account.", f"api.{account.domain}")
    return account


def _requested_host(request) -> str:
    return request.resolver_match.kwargs.get("host", "")


def _ts(value) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def _int(params: dict, key: str, default=None, field: str = "") -> int | None:
    value = params.get(key, default)
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        raise _fail(1, "Validation error.", {field or key: "Must be an integer."}) from None


@endpoint(
    _authenticate,
    _rate_limited,
    methods=("GET", "POST"),
    bills=lambda request, module, method, **_: (
        (module.lower(), method.lower()) == ("campaign", "send")
    ),
)
def service(request, account, module: str, method: str, host: str = ""):
    if request.GET.get("output", "json") != "json":
        raise _fail(6, "The sandbox answers output=json only.")
    if request.method == "POST" and _form_fields(request) > MAX_INPUT_VARS:
        raise _fail(12, f"The request has more than {MAX_INPUT_VARS} form fields.")
    handlers = HANDLERS.get(module.lower())
    if handlers is None:
        raise _fail(4, f"Unknown module {module}.")
    handler = handlers.get(method.lower())
    if handler is None:
        raise _fail(5, f"Unknown method {method}.")
    pairs = [(k, v) for k, vs in request.GET.lists() for v in vs if k not in QUERY_KEYS]
    pairs += [(k, v) for k, vs in request.POST.lists() for v in vs]
    return handler(account, parse_brackets(pairs))


QUERY_KEYS = {"apiKey", "output", "api"}
# Mobizon runs PHP, whose max_input_vars (1,000 by default) keeps the first 1,000 form fields
# of a request and drops the rest without a word. The sandbox refuses such a request instead,
# on purpose: a client that sends one is caught by the tests rather than losing recipients.
MAX_INPUT_VARS = 1000


def _form_fields(request) -> int:
    body = request.body
    return body.count(b"&") + 1 if body.strip() else 0


def _campaign(account, params, key: str = "id", *, deleted: bool = False) -> SandboxCampaign:
    """The account's campaign named by ``params[key]``; a deleted one only when ``deleted``
    (deleted campaigns stay readable with isDeleted=1, as the captured payloads suggest)."""
    pk = _int(params, key)
    if pk is None:
        raise _fail(2, "Campaign not found.")
    campaign = SandboxCampaign.objects.filter(account=account, pk=pk).first()
    if campaign is None or (campaign.deleted_at and not deleted):
        raise _fail(2, "Campaign not found.")
    return campaign


def create(account, params):
    data = params.get("data") if isinstance(params.get("data"), dict) else {}
    errors = {}
    text, sender, name = data.get("text"), data.get("from"), data.get("name", "")
    if not isinstance(text, str) or not text.strip():
        errors["text"] = "The message text cannot be blank."
    if len(name) > 255:
        errors["name"] = "The name is longer than 255 characters."
    kind = _int(data, "type", 2)
    if kind not in (1, 2, 3):
        errors["type"] = "The type must be 1, 2 or 3."
    approved = account.senders.filter(status=SenderName.Status.APPROVED)
    if sender and not approved.filter(name=sender).exists():
        errors["from"] = "The sender name is not registered or not approved."
    now = clock.now()
    deferred = _deferred(data.get("deferredToTs"), now, errors)
    validity = _int(data, "validity", 1440)
    if not 60 <= validity <= 1440:
        errors["validity"] = "The validity must be between 60 and 1440 minutes."
    if data.get("ratePeriod") and _int(data, "ratePeriod") not in (60, 3600, 86400):
        errors["ratePeriod"] = "The rate period must be 60, 3600 or 86400."
    if errors:
        raise _fail(1, "Validation error.", errors)
    default_sender = approved.order_by("pk").values_list("name", flat=True).first() or ""
    campaign = SandboxCampaign.objects.create(
        account=account,
        name=name,
        sender=sender or default_sender,
        text=text,
        start_at=deferred,
        params={
            "type": kind,
            "validity": validity,
            "rateLimit": _int(data, "rateLimit", 0),
            "ratePeriod": _int(data, "ratePeriod", 0),
            "mclass": _int(data, "mclass", 1),
            "trackShortLinkRecipients": _int(data, "trackShortLinkRecipients", 0),
        },
        created_at=now,
    )
    return Envelope(0, str(campaign.pk))


def _deferred(value, now, errors):
    if not value:
        return None
    try:
        when = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=now.tzinfo)
    except (TypeError, ValueError):
        errors["deferredToTs"] = "Use the format YYYY-MM-DD HH:MM:SS."
        return None
    if not timedelta(hours=1) <= when - now <= timedelta(days=14):
        errors["deferredToTs"] = "The start must be between 1 hour and 14 days from now."
    return when


def add_recipients(account, params):
    campaign = _campaign(account, params)
    sources = [s for s in SOURCES if params.get(s) not in (None, "", [])]
    if len(sources) != 1:
        raise _fail(12, "Send exactly one kind of recipients per request.")
    if sources != ["recipients"]:
        raise _fail(15, "The sandbox has no contact book: send numbers in recipients.")
    if campaign.launched_at:
        raise _fail(10, "The campaign status does not allow adding recipients.")
    items = params["recipients"]
    if isinstance(items, str):
        items = [n for n in re.split(r"[,\n]", items) if n.strip()]
    items = list(items.values()) if isinstance(items, dict) else items
    if len(items) > MAX_RECIPIENTS:
        raise _fail(12, f"At most {MAX_RECIPIENTS} recipients per request.")
    options = params.get("params") if isinstance(params.get("params"), dict) else {}
    flag = _int(options, "placeholdersFlag", 1)
    with transaction.atomic():
        if str(options.get("replace", "0")) == "1":
            campaign.messages.all().delete()
        taken = set(campaign.messages.values_list("phone", flat=True))
        checked = [_check_one(campaign, item, flag, taken) for item in items]
        new = SandboxMessage.objects.bulk_create(m for _r, m in checked if m is not None)
    for message, (result, _m) in zip(new, [c for c in checked if c[1] is not None], strict=True):
        result["messageId"] = str(message.pk)
    results = [result for result, _m in checked]
    added = len(new)
    code = 0 if added == len(results) else (98 if added else 99)
    return Envelope(code, results, "" if code == 0 else "Some recipients were not added.")


def _check_one(campaign, item, flag: int, taken: set) -> tuple[dict, SandboxMessage | None]:
    """The per-recipient result, and the message to add when its code is 0."""
    fields = item if isinstance(item, dict) else {"recipient": item}
    raw = str(fields.get("recipient") or "")
    digits = re.sub(r"\D", "", raw)
    result = {"recipient": digits or None, "code": 0, "type": "number", "number": raw}
    text = campaign.text
    if campaign.params.get("type") == 3:
        text, missing = _fill(text, fields, flag)
        if missing:
            result["code"] = 20
    if not raw.strip():
        result["code"] = 1
    elif not 9 <= len(digits) <= 15 or digits.startswith("0"):
        result["code"] = 3
    elif digits in taken:
        result["code"] = 4
    if result["code"]:
        return result, None
    taken.add(digits)
    parts, price = billing.price(campaign.account, text)
    reference = str(fields.get("reference") or "") or accounts.implied_reference(
        campaign.name or f"mobizon-{campaign.pk}", digits
    )
    message = SandboxMessage(
        campaign=campaign,
        reference=reference,
        phone=digits,
        text=text,
        segments=parts,
        price=price,
        created_at=clock.now(),
    )
    return result, message


def _fill(text: str, fields: dict, flag: int) -> tuple[str, bool]:
    """Fill {placeholders}: flag 1 keeps missing ones, 2 strips them, 3 rejects the recipient."""
    missing = [name for name in PLACEHOLDER.findall(text) if name not in fields]
    filled = PLACEHOLDER.sub(
        lambda m: str(fields[m[1]]) if m[1] in fields else ("" if flag == 2 else m[0]), text
    )
    return filled, bool(missing) and flag == 3


def send(account, params):
    campaign = _campaign(account, params)
    messages = list(campaign.messages.all())
    if campaign.launched_at or not messages:
        raise _fail(10, "The campaign cannot be sent: already sent or it has no recipients.")
    account.refresh_from_db(fields=["balance"])
    if sum((m.price for m in messages), Decimal("0")) > account.balance:
        raise _fail(15, "Insufficient funds on the balance.")  # [INFERRED] code
    now = clock.now()
    campaign.launched_at = now
    campaign.save(update_fields=["launched_at"])
    billing.accept(messages, now)
    return Envelope(0, 2)  # 2: queued for sending (the sandbox has no moderation)


def delete(account, params):
    campaign, now = _campaign(account, params), clock.now()
    if campaign.launched_at:
        if not campaign.start_at or campaign.start_at <= now:
            raise _fail(10, "The campaign has started and cannot be deleted.")
        if campaign.start_at - now < timedelta(minutes=5):
            raise _fail(10, "The deferred start is less than 5 minutes away.")
    campaign.deleted_at = now
    campaign.save(update_fields=["deleted_at"])
    billing.refund_unsent(campaign, now)
    return Envelope(0, True)


def _common_status(campaign, stages, now) -> str:
    if campaign.deleted_at:  # frozen as it was: only these two can be deleted
        return "AUTO_READY_FOR_SEND" if campaign.launched_at else "NEW"
    if not campaign.launched_at:
        return "NEW"
    if campaign.start_at and campaign.start_at > now:
        return "AUTO_READY_FOR_SEND"
    if any(stage in ("scheduled", "queued") for _m, stage in stages):
        return "RUNNING"
    return "SENT" if any(stage == "sent" for _m, stage in stages) else "DONE"


def _fields(campaign, stages, now) -> dict:
    status = _common_status(campaign, stages, now)
    finals = [
        delivery.final_at(m.reference, billing.message_start(m, campaign))
        for m, _stage in stages
        if m.accepted_at
    ]
    started = campaign.launched_at and status != "AUTO_READY_FOR_SEND"
    params = campaign.params
    return {
        "id": str(campaign.pk),
        "moderationStatus": "AUTO_READY_FOR_SEND" if campaign.launched_at else None,
        "commonStatus": status,
        "status": status,
        "sendStatus": status if status in ("SENT", "DONE") else None,
        "groupsList": [],
        "type": str(params.get("type", 2)),
        "msgType": "SMS",
        "rateLimit": str(params.get("rateLimit", 0)),
        "ratePeriod": str(params.get("ratePeriod", 0)),
        "isDeleted": "1" if campaign.deleted_at else "0",
        "deletedTs": _ts(campaign.deleted_at),
        "deferredToTs": _ts(campaign.start_at),
        "createTs": _ts(campaign.created_at),
        "startSendTs": _ts(campaign.start_at or campaign.launched_at) if started else None,
        "endSendTs": _ts(max(finals)) if status == "DONE" and finals else None,
        "name": campaign.name,
        "from": campaign.sender,
        "text": campaign.text,
        "validity": str(params.get("validity", 1440)),
        "mclass": str(params.get("mclass", 1)),
        "trackShortLinkRecipients": str(params.get("trackShortLinkRecipients", 0)),
        "groups": "",
        "globalComment": "",
        "creationWay": "2",
        "currency": campaign.account.currency,
    }


def _costs(campaign, stages) -> dict[int, Decimal]:
    """{message id: cost}. A draft is priced, which is how a quote reads it; once sent or
    deleted a campaign costs what stays charged, so refunds are deducted."""
    if campaign.launched_at is None and campaign.deleted_at is None:
        return {m.pk: m.price for m, _stage in stages}
    return billing.charged(campaign)


def _counters(campaign, stages, now) -> dict:
    costs = _costs(campaign, stages)

    def cost(messages) -> str:
        return f"{sum((costs.get(m.pk, Decimal(0)) for m in messages), Decimal(0)):.4f}"

    counters = {"updateTs": _ts(now)}
    by_status = {name: [] for name in COUNTER_NAMES}
    for message, stage in stages:
        by_status[STATUS[stage].capitalize()].append(message)
    for name, messages in by_status.items():
        counters[f"total{name}SegNum"] = str(sum(m.segments for m in messages))
        counters[f"total{name}MsgNum"] = str(len(messages))
        counters[f"total{name}MsgCost"] = cost(messages)
    all_messages = [m for m, _s in stages]
    counters["totalSegNum"] = str(sum(m.segments for m in all_messages))
    counters["totalMsgNum"] = str(len(all_messages))
    counters["totalCost"] = cost(all_messages)
    counters["recipientsRejected"] = "0"
    return counters


def get(account, params):
    campaign, now = _campaign(account, params, deleted=True), clock.now()
    return Envelope(0, _fields(campaign, billing.campaign_stages(campaign, now), now))


def get_info(account, params):
    campaign, now = _campaign(account, params, deleted=True), clock.now()
    stages = billing.campaign_stages(campaign, now)
    counters = _counters(campaign, stages, now)
    return Envelope(0, {**_fields(campaign, stages, now), "counters": counters})


# A link in a campaign's text. Mobizon shortens the links made in its own service; the sandbox
# shortens every one, so the links table has something to show [INFERRED].
LINK = re.compile(r"https?://[^\s]+")


def get_links(account, params):
    campaign = _campaign(account, params, key="campaignId")
    stages = billing.campaign_stages(campaign, clock.now())
    delivered = [m.reference for m, stage in stages if stage == "delivered"]
    items = []
    # A template campaign's links are in its recipients' own texts.
    texts = [campaign.text, *dict.fromkeys(m.text for m, _stage in stages)]
    urls = dict.fromkeys(url for text in texts for url in LINK.findall(text))
    for n, url in enumerate(urls):
        code = f"{_digest(f'{campaign.pk}:{url}'):x}"[:6]
        # About one recipient in three follows a link, decided by its reference; one in ten
        # of those is not redirected (a preview bot).
        clicks = [r for r in delivered if _digest(f"{r}:{n}") % 3 == 0]
        redirects = sum(1 for r in clicks if not r.endswith("0"))
        items.append(
            {
                "id": str(campaign.pk * 100 + n),
                "code": code,
                "fullLink": url,
                "shortLink": f"https://mbz.kz/{code}",
                "clickCnt": str(len(clicks)),
                "redirectCnt": str(redirects),
                "comment": "",
            }
        )
    return Envelope(0, items)


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def _ids(value) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in (value.values() if isinstance(value, dict) else value or [])]


def campaign_list(account, params):
    criteria = params.get("criteria") if isinstance(params.get("criteria"), dict) else {}
    campaigns = SandboxCampaign.objects.filter(account=account)
    ids = _ids(criteria.get("ids"))[:MAX_IDS] + _ids(criteria.get("id"))
    if ids:
        campaigns = campaigns.filter(pk__in=[i for i in ids if i.isdigit()])
    else:
        start, end = _created_window(criteria, clock.now())
        campaigns = campaigns.filter(created_at__gte=start)
        if end:
            campaigns = campaigns.filter(created_at__lte=end)
    for key in ("from", "text"):
        if criteria.get(key):
            campaigns = campaigns.filter(**{"sender" if key == "from" else key: criteria[key]})
    pagination = params.get("pagination") if isinstance(params.get("pagination"), dict) else {}
    size, page = _int(pagination, "pageSize", 25), _int(pagination, "currentPage", 0)
    if size not in (25, 50, 100) or page < 0:
        raise _fail(1, "Validation error.", {"pagination": "pageSize is 25, 50 or 100."})
    sort = params.get("sort") if isinstance(params.get("sort"), dict) else {}
    way = "-" if str(sort.get("id", sort.get("createTs", "ASC"))).upper() == "DESC" else ""
    now = clock.now()
    items = []
    for campaign in campaigns.order_by(f"{way}pk"):
        stages = billing.campaign_stages(campaign, now)
        item = {**_fields(campaign, stages, now), "counters": _counters(campaign, stages, now)}
        if criteria.get("status") in (None, "", item["commonStatus"]):
            items.append(item)
    data = {"items": items[page * size : (page + 1) * size], "totalItemCount": str(len(items))}
    return Envelope(0, data)


def _created_window(criteria: dict, now: datetime) -> tuple[datetime, datetime | None]:
    """The createTs range: current names (createTsFrom/To) or the 2019 ones (createDateFrom +
    createTimeFrom, …; conflict 19); with neither, the last 24 hours, as the List docs say."""
    start = _when(criteria, "createTsFrom", "createDateFrom", "createTimeFrom", "00:00:00")
    end = _when(criteria, "createTsTo", "createDateTo", "createTimeTo", "23:59:59")
    if start is None and end is None:
        start = now - timedelta(hours=24)
    return start or datetime.min.replace(tzinfo=UTC), end


def _when(criteria: dict, ts_key: str, date_key: str, time_key: str, default_time: str):
    value = criteria.get(ts_key)
    if not value and criteria.get(date_key):
        value = f"{criteria[date_key]} {criteria.get(time_key) or default_time}"
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise _fail(1, "Validation error.", {ts_key: "Use YYYY-MM-DD HH:MM:SS."}) from None


def sms_status(account, params):
    ids = [i for i in _ids(params.get("ids")) if i.isdigit()]
    if not ids:
        raise _fail(2, "No message ids given.")
    if len(ids) > MAX_IDS:
        raise _fail(12, f"At most {MAX_IDS} ids per request.")
    now = clock.now()
    found = SandboxMessage.objects.filter(campaign__account=account, pk__in=ids).select_related(
        "campaign"
    )
    return Envelope(0, [_message_status(m, now) for m in found.order_by("pk")])


def _message_status(message, now) -> dict:
    stage = billing.message_stage(message, message.campaign, now)
    start = billing.message_start(message, message.campaign)
    plan = delivery.plan(message.reference)
    updated = None
    if stage in delivery.FINAL:
        updated = start + timedelta(seconds=plan.final_after)
    elif stage == "sent":
        updated = start + timedelta(seconds=plan.sent_after)
    return {
        "id": str(message.pk),
        "status": STATUS[stage],
        "segNum": str(message.segments),
        "startSendTs": _ts(start) if updated else None,
        "statusUpdateTs": _ts(updated),
    }


def own_balance(account, params):
    account.refresh_from_db(fields=["balance"])
    return Envelope(0, {"balance": f"{account.balance:.4f}", "currency": account.currency})


# [INFERRED] The docs do not list alphaname status values.
ALPHANAME_STATUS = {"approved": "ACTIVE", "pending": "MODERATION", "blocked": "BLOCKED"}


def alphanames(account, params):
    items = [
        {
            "alphanameId": str(s.pk),
            "alphaname": {"name": s.name},
            "globalStatus": ALPHANAME_STATUS[s.status],
            "partnerStatus": ALPHANAME_STATUS[s.status],
            "description": "",
        }
        for s in account.senders.order_by("pk")
    ]
    return Envelope(0, {"items": items, "totalItemCount": str(len(items))})


HANDLERS = {
    "campaign": {
        "create": create,
        "addrecipients": add_recipients,
        "send": send,
        "delete": delete,
        "get": get,
        "getinfo": get_info,
        "getlinks": get_links,
        "list": campaign_list,
    },
    "message": {"getsmsstatus": sms_status},
    "user": {"getownbalance": own_balance},
    "alphaname": {"list": alphanames},
}

urlpatterns = [
    path("service/<str:module>/<str:method>", service),
    path("<str:host>/service/<str:module>/<str:method>", service),
    # [INFERRED] A path outside /service/ never reaches Mobizon's API: its web server's 404,
    # in the envelope so that a client reads it like any answer.
    not_found(
        lambda path: JsonResponse({"code": 404, "data": "", "message": "Not found."}, status=404)
    ),
]


# Price of one segment by regional domain; 16.2 KZT is the captured GetInfo totalCost of one.
PRICES = {
    "mobizon.kz": Decimal("16.2000"),
    "mobizon.com.br": Decimal("0.1500"),
    "mobizon.uz": Decimal("90.0000"),
}


class MobizonEmulator(Emulator):
    starting_balance = Decimal("50000.0000")
    currency = "KZT"
    price = PRICES["mobizon.kz"]
    demo = Demo(
        "Mobizon (sandbox)",
        "KZT",
        rates={"sms": price},
        history=(DemoCampaign("Service notice (demo)", 4, 400, 81, "9.50"),),
    )

    @classmethod
    def new_account(cls, name: str) -> dict:
        return {"api_key": secrets.token_hex(20), "domain": "mobizon.kz"}

    @classmethod
    def credentials(cls, account: SandboxAccount) -> dict[str, str]:
        return {"api_key": account.api_key, "domain": account.domain}

    @classmethod
    def segment_price(cls, account: SandboxAccount) -> Decimal:
        return PRICES.get(account.domain, cls.price)
