"""BSG One-API (v2): JWT from the API key, JSON campaigns with a reference_id per phone; and
BSG's REST SMS status API (v1, ``X-API-KEY``; provider-docs/bsg-rest-sms-status.txt) for a
message by id or by reference and a bulk task's counters.

Wire-format choices on [CONFLICT] items (docs/providers.md §6):
- #1 ``Authorization: Bearer <jwt>`` (the SDK form, not ``Bearer: <jwt>``).
- #2 the JWT lifetime is undocumented: cached 50 minutes, login again once on a 401.
- #3 ``page[limit]`` 50 for campaigns, 500 for messages, 15 (the minimum) for a reference lookup.
- #4 ``Phone.number`` is a digit string in /api/campaigns/send, an int in send-individual/price.
- #7 stats read from DetailCampaignSchema (``total_price`` is a string there).
- #8 the counter ``not_rcs_user`` maps like the status ``not_service_user`` (undelivered).
- #9 send-individual ``start_at`` is sent as an ISO datetime, not the SDK's int.
- #10 senders are listed with ``type=sms``.
- #11 the REST API's host is ``https://api.bsg.world`` beside the One-API's; any other base URL
  (the sandbox) serves both. A task's status is read at ``/rest/sms/task/{id}`` (both clients),
  not the seed's ``/rest/sms/{task_id}``, which is also a message's path.
Longer than 400 lines because BSG offers every operation of the contract, over two APIs
(its error table is errors.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import phonenumbers

from providers.base import (
    AccountInfo,
    Capabilities,
    CredentialField,
    MessageStatusReport,
    ProviderAdapter,
    Quote,
    QuoteLine,
    RemoteCampaign,
    RemoteStats,
    ReportedSender,
    Submission,
    SubmitResult,
    TokenLoginMixin,
    chunks,
    to_datetime,
    to_decimal,
)
from providers.bsg.errors import LEGACY_ERRORS
from providers.errors import (
    AuthError,
    DuplicateReference,
    InsufficientFunds,
    InvalidRequest,
    NotFound,
    PermanentError,
)
from providers.http import json_or_none
from providers.statuses import (
    campaign_status,
    empty_counters,
    message_reason,
    message_status,
    sender_status,
)

REST_HOST = "https://api.bsg.world"


class BSGAdapter(TokenLoginMixin, ProviderAdapter):
    slug = "bsg"
    label = "BSG"
    default_base_url = "https://one-api.bsg.world"
    credential_fields = (CredentialField("api_key", "API key"),)
    capabilities = Capabilities(
        channels=frozenset({"sms", "voice"}),
        personalised_text=True,
        max_batch_size=10_000,
        quote=True,
        stop=True,
        status_by_reference=True,
        message_status=True,
        min_validity=timedelta(hours=1),
        max_validity=timedelta(hours=72),
        sms_sender_required=True,  # Sms.sender is required (README.md §2.1.4)
        voice_kinds=frozenset({"tts"}),  # Voice is text to speech: text, category, voice, lang
        # Voice.voice is one of these (README.md §2.1.4), sonya in BSG's own example.
        voices=(("sonya", "Sonya"), ("dariya", "Dariya"), ("ostap", "Ostap"), ("amala", "Amala")),
        # [INFERRED] Voice.lang is a free string, "en" in the example: ISO 639-1 codes of the
        # languages BSG's voices are named for and its markets speak.
        voice_languages=(
            ("en", "English"),
            ("ru", "Russian"),
            ("uk", "Ukrainian"),
            ("kk", "Kazakh"),
        ),
        # Voice.category (README.md §2.1.4), marketing unless the campaign says otherwise.
        voice_categories=(
            ("marketing", "Marketing"),
            ("transactional", "Transactional"),
            ("otp", "One-time password"),
        ),
    )
    rate_limit_message = (
        "BSG refused the request: too many identical requests in a short time. "
        "Crier will wait and try again."
    )
    # [INFERRED] BSG documents no processing time. Its Laravel-style answers say it runs on PHP,
    # where the server cuts a request off at its execution limit (30 s by default, minutes at
    # the most): 10 minutes is well past any such limit. Resending after that is safe twice
    # over: BSG refuses a reference it already has (DuplicateReference).
    settle_time = timedelta(minutes=10)

    token_key = "bearer"

    def fetch_token(self) -> str:
        body = {"api_key": self.credentials.get("api_key", "")}
        return self.token_in(self.call("POST", "/api/auth/login", json=body, authenticate=False))

    def raise_for_response(self, response):
        body = json_or_none(response)
        body = body if isinstance(body, dict) else {}
        legacy_code = str(body.get("error", "0")).strip()
        if legacy_code.isdigit() and int(legacy_code) in LEGACY_ERRORS:
            error_class, field, sentence = LEGACY_ERRORS[int(legacy_code)]
            detail = str(body.get("errorDescription", ""))
            if issubclass(error_class, InvalidRequest):
                raise error_class(sentence, field=field, code=legacy_code, detail=detail)
            raise error_class(sentence, code=legacy_code, detail=detail)
        status, detail = response.status_code, _error_detail(body)
        if status == 401 and response.request.url.path.endswith("/api/auth/login"):
            raise AuthError(
                "BSG did not accept the API key. Copy it again from your BSG account "
                "(it starts with live_ or test_).",
                code=status,
            )
        low_balance = status in (400, 422) and any(
            word in detail.lower() for word in ("insufficient", "balance", "funds")
        )
        # [INFERRED] BSG documents no answer for an empty balance: 402 is the usual one, and a
        # validation error that names the balance means the same.
        if status == 402 or low_balance:
            raise InsufficientFunds("The BSG balance is too low to send this.", code=status)
        # 409, or Laravel's 422 "The reference id has already been taken." on any phone: the
        # batch was taken before (by a request whose answer was lost), never a failure.
        taken = status == 422 and any("already been taken" in m for m in _error_messages(body))
        if status == 409 or taken:
            raise DuplicateReference(
                "BSG already has a message with one of these references.",
                code=status,
                detail=detail,
            )
        if status == 422 and "tariff" in detail.lower():
            raise InvalidRequest("BSG does not know the account's tariff.", field="tariff_code")
        if status in (400, 422):
            raise InvalidRequest(f"BSG rejected the request: {detail}", code=status, detail=detail)
        super().raise_for_response(response)

    # --- Sending ---------------------------------------------------------------------------

    def submit(self, spec, messages, state):
        self.check_batch(messages, spec)
        # One text a campaign: a call's own text goes as the campaign's where the batch's calls
        # all read it (a batch of one: campaigns.sending.engine.batch_size).
        voices = {m.voice or spec.voice for m in messages}
        if spec.channel == "voice" and (
            any(m.text is not None for m in messages)
            or len(voices) > 1
            or (spec.voice is not None and voices != {spec.voice})
        ):
            raise self.unsupported("a different voice message per recipient")
        if spec.channel == "sms" and any(m.text is not None for m in messages):
            path, body = "/api/campaigns/sms/send-individual", self._individual(spec, messages)
        else:
            path, body = "/api/campaigns/send", self._campaign(spec, messages)
        campaign = self.call("POST", path, json=body, sends=True)["data"]
        state.created(str(campaign["id"]))
        return Submission(
            provider_campaign_id=str(campaign["id"]),
            results=[SubmitResult(m.reference, accepted=True) for m in messages],
            campaign_status=campaign_status(self.slug, campaign.get("status") or "sending"),
        )

    def _campaign(self, spec, messages) -> dict:
        if spec.channel == "voice":
            voice = spec.voice or next((m.voice for m in messages if m.voice), None)
            if voice is None:
                raise InvalidRequest("A voice campaign needs a text to read.", field="voice")
            payload = {"text": voice.text, "category": voice.category}
            optional = {"voice": voice.voice, "lang": voice.language, "sender": spec.sender}
            payload |= {key: value for key, value in optional.items() if value}
        else:
            payload = {"sender": spec.sender, "text": spec.text or "", "transliterate": False}
        phones = [{"number": m.digits, "reference_id": m.reference} for m in messages]
        body = {
            "validity": _validity_hours(spec.validity),
            "add_to_contact_book": True,
            "check_stop_list": True,
            "recipients": {"phones": phones},
            "channels": [spec.channel],
            spec.channel: payload,
            "dry_run": False,
        }
        return body | ({"start_at": spec.start_at.isoformat()} if spec.start_at else {})

    def _individual(self, spec, messages) -> dict:
        body = {
            "messages": [
                {
                    "phone": int(m.digits),
                    "text": m.text if m.text is not None else spec.text or "",
                    "sender": spec.sender,
                    "reference_id": m.reference,
                }
                for m in messages
            ],
            "validity": _validity_hours(spec.validity),
        }
        return body | ({"start_at": spec.start_at.isoformat()} if spec.start_at else {})

    def reconcile(self, spec, messages, state):
        # One request creates a BSG campaign with every phone of the batch, so the batch was
        # taken whole or not at all [INFERRED: the API describes no partial acceptance]; the
        # first reference tells which (REST), and its message names the campaign when the
        # answer was lost (One-API: the REST answer has no campaign).
        campaign_id = state.provider_campaign_id
        if not campaign_id:
            found = self.lookup_reference(messages[0].reference)
            if found is None:
                return None
            campaign_id = self._campaign_of(found.provider_message_id)
        ids = {r.reference: r.provider_message_id for r in self.message_statuses(campaign_id)}
        results = [SubmitResult(m.reference, True, ids.get(m.reference, "")) for m in messages]
        return Submission(provider_campaign_id=campaign_id, results=results)

    def quote(self, spec, messages):
        if spec.channel != "sms":
            raise self.unsupported("price quotes for voice campaigns")
        by_country = defaultdict(list)
        for message in messages:
            by_country[_country(message.phone)].append(message)
        lines, currency = [], ""
        for country, group in by_country.items():
            for part in chunks(group, self.capabilities.max_batch_size):
                body = {
                    "sender": spec.sender,
                    "text": spec.text or part[0].text or "",
                    "messages": [{"phone": int(m.digits)} for m in part],
                }
                price = self.call("POST", "/api/campaigns/price", json=body)
                currency = price["currency"]
                lines.append(QuoteLine(country, len(part), to_decimal(price["price"])))
        return Quote(sum((line.total for line in lines), Decimal(0)), currency, tuple(lines))

    # --- Tracking and control ---------------------------------------------------------------

    def campaign_stats(self, provider_campaign_id):
        detail = self.call("GET", f"/api/campaigns/{provider_campaign_id}/detail")["data"]
        counters = empty_counters()
        for raw, count in (detail.get("statistics") or {}).items():
            counters[message_status(self.slug, raw)[0]] += int(count or 0)
        return RemoteStats(
            counters=counters,
            campaign_status=campaign_status(self.slug, detail.get("status")),
            raw_status=str(detail.get("status", "")),
            cost=to_decimal(detail.get("total_price")),
            currency=detail.get("currency") or "",
            total=int(detail.get("total_messages") or sum(counters.values())),
        )

    def message_statuses(self, provider_campaign_id, provider_message_ids=()):
        reports, offset, limit = [], 0, 500
        while True:
            params = {"filter[campaign_id]": provider_campaign_id}
            page = self.call("GET", "/api/messages", params=params | _page(offset, limit))
            reports += [self._report(item) for item in page["data"]]
            offset += limit
            total = ((page.get("meta") or {}).get("page") or {}).get("total", 0)
            if len(page["data"]) < limit or offset >= int(total):
                return reports

    def lookup_reference(self, reference):
        """BSG's REST lookup by reference: the message's status and price; None when BSG has
        no message with it (error 20). The report names no campaign (the API gives none)."""
        try:
            return self._rest_report(self._rest(f"/rest/sms/reference/{reference}"))
        except NotFound:
            return None

    def message(self, provider_message_id) -> MessageStatusReport:
        """One message's status by BSG's id (REST ``/rest/sms/{id}``); NotFound (20) if none."""
        return self._rest_report(self._rest(f"/rest/sms/{provider_message_id}"))

    def task_stats(self, task_id) -> RemoteStats:
        """A bulk task's counters (REST ``/rest/sms/task/{id}``): ``expired`` (the phone was
        off), ``undeliverable`` (a bad number) and ``unknown`` (no report), as documented."""
        task = self._rest(f"/rest/sms/task/{task_id}")
        counters = empty_counters()
        for raw in ("sent", "delivered", "expired", "undeliverable", "unknown"):
            counters[message_status(self.slug, raw)[0]] += int(task.get(raw) or 0)
        return RemoteStats(
            counters=counters,
            campaign_status="unknown",  # the task has counters only (status-map §2)
            raw_status="",
            cost=to_decimal(task.get("totalprice")),
            currency=task.get("currency") or "",
            total=sum(counters.values()),
        )

    def _rest(self, path: str) -> dict:
        """A REST API call: the API key in ``X-API-KEY``, on the REST host."""
        host = REST_HOST if self.base_url == self.default_base_url else self.base_url
        headers = {"X-API-KEY": self.credentials.get("api_key", "")}
        return self.call("GET", host + path, authenticate=False, headers=headers)

    def _rest_report(self, item: dict) -> MessageStatusReport:
        status, final = message_status(self.slug, item.get("status"))
        return MessageStatusReport(
            status=status,
            raw_status=str(item.get("status", "")),
            final=final,
            reference=item.get("reference") or "",
            provider_message_id=str(item.get("id") or ""),
            cost=to_decimal(item.get("price")),
            currency=item.get("currency") or "",
            updated_at=to_datetime(item.get("time_dr") or item.get("time_sent")),
            error_reason=message_reason(self.slug, item.get("status")),
        )

    def _campaign_of(self, provider_message_id: str) -> str:
        params = {"filter[id]": provider_message_id} | _page(0, 15)
        items = self.call("GET", "/api/messages", params=params)["data"]
        if not items:
            raise NotFound("BSG could not find that message.", detail=provider_message_id)
        return str(items[0].get("campaign_id") or "")

    def _report(self, item: dict) -> MessageStatusReport:
        status, final = message_status(self.slug, item.get("status"))
        amount = item.get("amount") or {}
        return MessageStatusReport(
            status=status,
            raw_status=str(item.get("status", "")),
            final=final,
            reference=item.get("reference_id") or "",
            provider_message_id=str(item["id"]),
            provider_campaign_id=str(item.get("campaign_id") or ""),
            cost=to_decimal(amount.get("value")),
            currency=amount.get("currency") or "",
            updated_at=to_datetime(
                item.get("delivered_at") or item.get("sent_at") or item.get("created_at")
            ),
            error_reason=message_reason(self.slug, item.get("status")),
        )

    def stop(self, provider_campaign_id):
        try:
            campaign = self.call("PATCH", f"/api/campaigns/{provider_campaign_id}/stop")["data"]
        except InvalidRequest as error:
            raise PermanentError(
                "BSG can only stop a campaign that is scheduled, in moderation, sending or "
                "paused; this one has already finished or been stopped.",
                code=error.code,
                detail=error.detail,
            ) from None
        return campaign_status(self.slug, campaign.get("status"))

    def campaign(self, provider_campaign_id):
        return self._remote(self.call("GET", f"/api/campaigns/{provider_campaign_id}")["data"])

    def list_campaigns(self):
        params = _page(0, 50) | {"sort": "id", "way": "desc"}
        return [
            self._remote(item) for item in self.call("GET", "/api/campaigns", params=params)["data"]
        ]

    def _remote(self, item: dict) -> RemoteCampaign:
        return RemoteCampaign(
            provider_campaign_id=str(item["id"]),
            name=item.get("name") or "",
            status=campaign_status(self.slug, item.get("status")),
            raw_status=str(item.get("status", "")),
            created_at=to_datetime(item.get("created_at")),
        )

    def account_info(self):
        balance = self.call("GET", "/api/accounts/balance")["data"]
        senders = self.call("GET", "/api/senders", params={"type": "sms"})["data"]
        return AccountInfo(
            currency=balance.get("currency") or "",
            balance=to_decimal(balance.get("balance")),
            senders=tuple(
                ReportedSender(s["sender"], sender_status(s.get("status")), s.get("status") or "")
                for s in senders
            ),
        )


def _page(offset: int, limit: int) -> dict:
    return {"page[offset]": offset, "page[limit]": limit}


def _validity_hours(validity: timedelta | None) -> int:
    if validity is None:
        return 72
    return min(72, max(1, math.ceil(validity.total_seconds() / 3600)))


def _country(phone: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _error_messages(body: dict) -> list[str]:
    """Every sentence of a Laravel-style {"message", "errors"} body's errors."""
    errors = body.get("errors")
    if isinstance(errors, dict):
        errors = [
            msg for msgs in errors.values() for msg in (msgs if isinstance(msgs, list) else [msgs])
        ]
    texts = [error.get("message") if isinstance(error, dict) else error for error in errors or []]
    return [str(text) for text in texts if text]


def _error_detail(body: dict) -> str:
    """The first useful sentence of a Laravel-style {"message", "errors"} body."""
    return next(iter(_error_messages(body)), str(body.get("message") or "no reason given"))
