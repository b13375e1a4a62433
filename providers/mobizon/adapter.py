"""Mobizon: form-encoded bracket keys, apiKey in the query, a regional API domain.

A campaign is Create -> AddRecipients (at most 500 per call) -> Send. Every answer is the
envelope {code, data, message}; numbers arrive as strings and are coerced here, once.

Wire-format choices on [CONFLICT] items (docs/providers.md §6):
- #16 the body is always application/x-www-form-urlencoded with PHP bracket keys, never JSON;
  flat lists use the documented ``recipients[]=…`` / ``ids[]=…`` form.
- #17 module and method in the documented CamelCase: ``/service/Campaign/Create``.
- #18 API errors are read from ``code`` whatever the HTTP status (documented as HTTP 200).
- #19 Campaign/List sends the document's own criteria (provider-docs/mobizon-campaign-api.txt):
  ``criteria[createDateFrom]`` + ``[createTimeFrom]`` and ``[createDateTo]`` + ``[createTimeTo]``
  (the last 30 days), not the captured ``createTsFrom/To``.
- #21 ``getFilledTplCampaignText=0`` is always sent explicitly.
- #22 template campaigns send ``params[placeholdersFlag]=3`` (reject a recipient with missing
  values), the current docs' value.
- #25 User/GetOwnBalance is a GET.
[INFERRED] Mobizon reads ``deferredToTs`` in the account's timezone, which the API does not
expose; Crier sends UTC. Longer than 400 lines: the campaign takes three calls, each batch is
sized by PHP's form-field cap, and numbers-as-strings are coerced here (its error tables are
errors.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from urllib.parse import urlencode

from providers.base import (
    NEVER_SENT,
    AccountInfo,
    Capabilities,
    CredentialField,
    MessageStatusReport,
    ProviderAdapter,
    Quote,
    RemoteCampaign,
    RemoteStats,
    ReportedSender,
    ShortLink,
    Submission,
    SubmitResult,
    chunks,
    to_datetime,
    to_decimal,
)
from providers.errors import (
    DuplicateReference,
    InsufficientFunds,
    InvalidRequest,
    PermanentError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from providers.http import flatten_form, json_or_none, parse_retry_after
from providers.mobizon.errors import API_ERRORS, LOW_BALANCE_WORDS, OK_CODES, RECIPIENT_ERRORS
from providers.statuses import (
    campaign_status,
    empty_counters,
    message_reason,
    message_status,
    sender_status,
)

DOMAINS = (
    ("mobizon.kz", "Kazakhstan (api.mobizon.kz)"),
    ("mobizon.com.br", "Brazil (api.mobizon.com.br)"),
    ("mobizon.uz", "Uzbekistan (api.mobizon.uz)"),
)

MESSAGE_COUNTERS = ("New", "Enqueud", "Acceptd", "Delivrd", "Rejectd", "Expired")
MESSAGE_COUNTERS += ("Undeliv", "Deleted", "Unknown", "Pdlivrd")
ADD_LIMIT, STATUS_LIMIT = 500, 100
# Mobizon runs PHP, whose max_input_vars (1,000 by default) caps the form fields of a request
# and silently drops the rest: an AddRecipients call with placeholders carries a field per
# value, so it is sized by its fields, not only by ADD_LIMIT. Two fields are the campaign id
# and params[placeholdersFlag].
MAX_FORM_FIELDS, ADD_OVERHEAD = 1000, 2
ADDED = "added"  # progress keys of the recipients added: added_0, added_1, ... (a call each)


class MobizonAdapter(ProviderAdapter):
    slug = "mobizon"
    label = "Mobizon"
    default_base_url = "https://api.mobizon.kz"
    credential_fields = (
        CredentialField("api_key", "API key"),
        CredentialField("domain", "Regional domain", secret=False, choices=DOMAINS),
    )
    capabilities = Capabilities(
        personalised_text=True,
        max_batch_size=5_000,  # [INFERRED] one provider campaign per 10 AddRecipients calls
        quote=True,
        delete_before_start=True,
        message_status=True,
        short_links=True,
        min_lead_time=timedelta(hours=1),
        max_lead_time=timedelta(days=14),
        min_validity=timedelta(minutes=60),
        max_validity=timedelta(minutes=1440),
        rate_limit=True,
        flash=True,
        # GetSMSStatus takes 100 ids a call: a 5,000-message batch is 50 calls a poll.
        poll_interval=timedelta(seconds=15),
    )
    # [INFERRED] Mobizon documents no processing time. It runs PHP (see MAX_FORM_FIELDS), where
    # the server cuts a request off at its execution limit (30 s by default, minutes at the
    # most): 10 minutes is well past any such limit. Only Campaign/Send bills, and Mobizon
    # refuses to send a campaign twice (code 10), so resending after that is safe twice over.
    settle_time = timedelta(minutes=10)

    @classmethod
    def resolve_base_url(cls, credentials: dict[str, str]) -> str:
        domain = credentials.get("domain")
        return f"https://api.{domain}" if domain else cls.default_base_url

    def api(self, method: str, params: dict | None = None, *, sends: bool = False, verb="POST"):
        """Call ``/service/<Module>/<Method>`` and return the envelope's ``data``."""
        query = {"output": "json", "api": "v1", "apiKey": self.credentials.get("api_key", "")}
        form = {}
        if verb == "POST":
            form = {
                "content": urlencode(flatten_form(params or {})),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            }
        body = self.call(verb, f"/service/{method}", sends=sends, params=query, **form)
        if not isinstance(body, dict) or "data" not in body:
            error_class = UnknownOutcome if sends else TemporaryError
            raise error_class("Mobizon sent an answer Crier could not read.")
        return body["data"]

    def raise_for_response(self, response):
        body = json_or_none(response)
        if isinstance(body, dict) and "code" in body and int(body["code"]) not in OK_CODES:
            error = self._api_error(int(body["code"]), body.get("data"), str(body.get("message")))
            if isinstance(error, RateLimited):  # undocumented, but honour a Retry-After if sent
                error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise error
        super().raise_for_response(response)

    def _api_error(self, code: int, data, message: str) -> Exception:
        if code == 13:
            domain = data if isinstance(data, str) else next(iter((data or {}).values()), "")
            return InvalidRequest(
                f"This Mobizon account lives on another regional server: set the account's "
                f"domain to {str(domain).removeprefix('api.')} (API address {domain}).",
                field="domain",
                code=code,
            )
        if code == 30:
            return RateLimited("Mobizon says Crier is calling it too often; Crier will wait.")
        if code == 15 and any(word in message.lower() for word in LOW_BALANCE_WORDS):
            return InsufficientFunds("The Mobizon balance is too low to send this.", code=code)
        if code == 1 and isinstance(data, dict) and data:
            field, problem = next(iter(data.items()))
            return InvalidRequest(f"Mobizon rejected {field}: {problem}", field=field, code=1)
        error_class, sentence = API_ERRORS.get(code, (PermanentError, f"Mobizon error {code}."))
        return error_class(sentence, code=code, detail=message)

    # --- Sending ---------------------------------------------------------------------------

    def submit(self, spec, messages, state):
        self.check_batch(messages, spec)
        mode = _template_mode(messages)
        if not state.provider_campaign_id:
            state.created(self._create(spec, mode, state.title(spec.name) or "Crier"))
        # Recipients an earlier try of this batch added are not added again: a retry after a
        # rate limit goes on where the last try stopped instead of starting over. Each call's
        # results are noted under a key of their own, so each is written once.
        added = _added(state.progress)
        numbers = count(len([key for key in state.progress if key.startswith(ADDED)]))
        for part in _parts([m for m in messages if m.reference not in added], spec, mode):
            results = self._add(state.provider_campaign_id, spec, part, mode)
            added |= {result.reference: result for result in results}
            state.advanced(**{f"{ADDED}_{next(numbers)}": [_note(r) for r in results]})
        results = [added[m.reference] for m in messages]
        if not any(result.accepted for result in results):
            return Submission(state.provider_campaign_id, results, campaign_status="failed")
        state.advanced(send_requested=True)  # from here on a lost answer may hide a send
        sent = self._api_taken("Campaign/Send", {"id": state.provider_campaign_id})
        status = "moderation" if int(sent) == 1 else "scheduled" if spec.start_at else "sending"
        return Submission(state.provider_campaign_id, results, campaign_status=status)

    def _api_taken(self, method: str, params: dict):
        """A call on a campaign that may have been sent already: Mobizon's code 10 (its status
        no longer allows it) then means an earlier try sent it."""
        try:
            return self.api(method, params, sends=True)
        except PermanentError as error:
            if error.code != "10":
                raise
            raise DuplicateReference(
                "Mobizon says this campaign was sent already; it was not sent again.",
                code=error.code,
                detail=error.detail,
            ) from None

    def _create(self, spec, mode: str, name: str) -> str:
        data = {
            "name": name[:255],
            "text": "{text}" if mode == "text" else spec.text or "",
            "type": 3 if mode else 2,
            "from": spec.sender or None,
            "deferredToTs": _mobizon_time(spec.start_at),
            "validity": _validity_minutes(spec.validity),
            "mclass": 0 if spec.flash else None,
        }
        if spec.rate_limit:
            data |= _rate(spec.rate_limit, spec.rate_period)
        return str(self.api("Campaign/Create", {"data": data}, sends=True))

    def _add(self, campaign_id, spec, part, mode: str) -> list[SubmitResult]:
        if mode:
            recipients = [{"recipient": m.digits, **_values(m, spec, mode)} for m in part]
        else:
            recipients = [m.digits for m in part]
        options = {"placeholdersFlag": 3 if mode else None}
        params = {"id": campaign_id, "recipients": recipients, "params": options}
        if len(flatten_form(params)) > MAX_FORM_FIELDS:
            raise InvalidRequest(
                f"A recipient has too many placeholder values for Mobizon (at most "
                f"{MAX_FORM_FIELDS - ADD_OVERHEAD - 1} per recipient).",
                field="text",
            )
        items = self._api_taken("Campaign/AddRecipients", params) or []
        by_number = {str(item.get("number") or item.get("recipient")): item for item in items}
        results = []
        for index, message in enumerate(part):
            item = by_number.get(message.digits) or (items[index] if index < len(items) else {})
            code = int(item.get("code", 99))
            if code in (0, 4):  # 4: already in this campaign, i.e. added by an earlier try
                message_id = str(item.get("messageId") or "")
                results.append(SubmitResult(message.reference, True, message_id))
            else:
                reason = RECIPIENT_ERRORS.get(code, f"Mobizon refused this number (code {code}).")
                results.append(SubmitResult(message.reference, False, "", str(code), reason))
        return results

    def reconcile(self, spec, messages, state):
        # Mobizon has no per-message reference, but nothing goes out before Campaign/Send: a
        # batch whose campaign was never created, or is still a draft, can be submitted again
        # into the same campaign. A draft is proof only if Send was never asked for; after
        # that, Mobizon may still be working on the Send (the engine waits settle_time). Once
        # sent, every number added was taken; ids lost with an answer are left blank, and
        # tracking goes by the campaign's counters.
        if not state.provider_campaign_id:
            return NEVER_SENT
        remote = self.campaign(state.provider_campaign_id)
        if remote.status == "draft":
            return None if state.progress.get("send_requested") else NEVER_SENT
        ids = {ref: r.provider_message_id for ref, r in _added(state.progress).items()}
        results = [SubmitResult(m.reference, True, ids.get(m.reference, "")) for m in messages]
        return Submission(state.provider_campaign_id, results, campaign_status=remote.status)

    def quote(self, spec, messages):
        """Mobizon prices a campaign once its recipients are added: build a draft, read its
        counters, delete it. Nothing is sent."""
        mode = _template_mode(messages)
        campaign_id = self._create(spec, mode, f"Crier price check {spec.name}")
        try:
            for part in _parts(messages, spec, mode):
                self._add(campaign_id, spec, part, mode)
            stats = self.campaign_stats(campaign_id)
        finally:
            self.delete(campaign_id)
        return Quote(stats.cost or Decimal(0), stats.currency)

    # --- Tracking and control ---------------------------------------------------------------

    def campaign_stats(self, provider_campaign_id):
        params = {"id": provider_campaign_id, "getFilledTplCampaignText": 0}
        info = self.api("Campaign/GetInfo", params)
        raw_counters = info.get("counters") or {}
        counters = empty_counters()
        for raw in MESSAGE_COUNTERS:
            counters[message_status(self.slug, raw)[0]] += _int(
                raw_counters.get(f"total{raw}MsgNum")
            )
        return RemoteStats(
            counters=counters,
            campaign_status=self._campaign_status(info),
            raw_status=str(info.get("commonStatus") or info.get("status") or ""),
            cost=to_decimal(raw_counters.get("totalCost")),
            currency=info.get("currency") or raw_counters.get("userCurrency") or "",
            total=_int(raw_counters.get("totalMsgNum")),
        )

    def _campaign_status(self, info: dict) -> str:
        if _int(info.get("isDeleted")):
            return "cancelled"
        raw = str(info.get("commonStatus") or info.get("status") or "")
        deferred = to_datetime(info.get("deferredToTs"))
        ready = raw.upper() in ("READY_FOR_SEND", "AUTO_READY_FOR_SEND")
        if ready and deferred and deferred.replace(tzinfo=UTC) > datetime.now(UTC):
            return "scheduled"
        return campaign_status(self.slug, raw)

    def campaign(self, provider_campaign_id) -> RemoteCampaign:
        return self._remote(self.api("Campaign/Get", {"id": provider_campaign_id}))

    def _remote(self, item: dict) -> RemoteCampaign:
        return RemoteCampaign(
            provider_campaign_id=str(item.get("id", "")),
            name=item.get("name") or "",
            status=self._campaign_status(item),
            raw_status=str(item.get("commonStatus") or item.get("status") or ""),
            created_at=to_datetime(item.get("createTs")),
        )

    def list_campaigns(self):
        now = datetime.now(UTC)
        since = now - timedelta(days=30)
        criteria = {
            "createDateFrom": f"{since:%Y-%m-%d}",
            "createTimeFrom": f"{since:%H:%M:%S}",
            "createDateTo": f"{now:%Y-%m-%d}",
            "createTimeTo": f"{now:%H:%M:%S}",
        }
        params = {
            "criteria": criteria,
            "pagination": {"pageSize": 50, "currentPage": 0},
            "sort": {"id": "DESC"},
        }
        return [self._remote(item) for item in self.api("Campaign/List", params)["items"]]

    def links(self, provider_campaign_id):
        return [
            ShortLink(
                code=link.get("code") or "",
                full_link=link.get("fullLink") or "",
                short_link=link.get("shortLink") or "",
                clicks=_int(link.get("clickCnt")),
                redirects=_int(link.get("redirectCnt")),
            )
            for link in self.api("Campaign/GetLinks", {"campaignId": provider_campaign_id}) or []
        ]

    def delete(self, provider_campaign_id):
        try:
            self.api("Campaign/Delete", {"id": provider_campaign_id}, sends=True)
        except PermanentError as error:
            if error.code != "10":
                raise
            raise PermanentError(
                "Mobizon only deletes a campaign before it starts, and a scheduled one at least "
                "5 minutes before its start time; this campaign has started or starts too soon.",
                code=error.code,
                detail=error.detail,
            ) from None

    def message_statuses(self, provider_campaign_id, provider_message_ids=()):
        """Statuses of the given Mobizon message ids (100 per call); the campaign id is unused."""
        reports = []
        for part in chunks(list(provider_message_ids), STATUS_LIMIT):
            for item in self.api("Message/GetSMSStatus", {"ids": list(part)}) or []:
                status, final = message_status(self.slug, item.get("status"))
                reports.append(
                    MessageStatusReport(
                        status=status,
                        raw_status=str(item.get("status") or ""),
                        final=final,
                        provider_message_id=str(item.get("id")),
                        updated_at=to_datetime(item.get("statusUpdateTs")),
                        error_reason=message_reason(self.slug, item.get("status")),
                    )
                )
        return reports

    def account_info(self):
        balance = self.api("User/GetOwnBalance", verb="GET")
        names = self.api("Alphaname/List") or {}
        return AccountInfo(
            currency=balance.get("currency") or "",
            balance=to_decimal(balance.get("balance")),
            senders=tuple(
                ReportedSender(
                    (item.get("alphaname") or {}).get("name") or "",
                    sender_status(item.get("globalStatus")),
                    str(item.get("globalStatus") or ""),
                )
                for item in names.get("items") or []
            ),
        )


def _int(value) -> int:
    return int(value) if value not in (None, "") else 0


def _template_mode(messages) -> str:
    """ "" for one shared text; "variables" to fill the spec's {placeholders}; "text" when
    recipients have their own texts. [INFERRED] Those ride a one-placeholder template, {text}."""
    if any(m.variables for m in messages):
        return "variables"
    return "text" if any(m.text is not None for m in messages) else ""


def _parts(messages, spec, mode: str):
    """AddRecipients-sized parts: at most ADD_LIMIT recipients and MAX_FORM_FIELDS fields."""
    part, fields = [], ADD_OVERHEAD
    for message in messages:
        needs = 1 + (len(_values(message, spec, mode)) if mode else 0)
        if part and (len(part) == ADD_LIMIT or fields + needs > MAX_FORM_FIELDS):
            yield part
            part, fields = [], ADD_OVERHEAD
        part.append(message)
        fields += needs
    if part:
        yield part


def _added(progress: dict) -> dict[str, SubmitResult]:
    """What earlier tries of the batch added, by reference: the notes of every AddRecipients
    call (``added_<n>``; ``added``, all of them, in a batch noted before that)."""
    parts = [value for key, value in progress.items() if key.startswith(ADDED)]
    return {note[0]: SubmitResult(*note) for notes in parts for note in notes}


def _note(result: SubmitResult) -> list:
    """A SubmitResult as JSON-able progress (SubmitResult(*note) reads it back)."""
    return [
        result.reference,
        result.accepted,
        result.provider_message_id,
        result.error_code,
        result.reason,
    ]


def _values(message, spec, mode: str) -> dict:
    if mode == "variables":
        return dict(message.variables)
    return {"text": message.text if message.text is not None else spec.text or ""}


def _mobizon_time(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if when else None


def _validity_minutes(validity: timedelta | None) -> int | None:
    if validity is None:
        return None
    return min(1440, max(60, int(validity.total_seconds() // 60)))


def _rate(limit: int, period: timedelta) -> dict:
    seconds = int(period.total_seconds())
    if seconds not in (60, 3600, 86400):  # Mobizon only knows a minute, an hour and a day
        limit, seconds = max(1, round(limit * 60 / max(seconds, 1))), 60
    return {"rateLimit": limit, "ratePeriod": seconds}
