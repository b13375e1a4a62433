"""The adapter contract every provider module implements.

Adapters take and return the plain dataclasses below, never model instances or raw dicts, so
``providers`` never imports ``campaigns`` and the sandbox can stand behind any adapter.
Money is always ``Decimal``; statuses are always the common vocabulary of ``providers.statuses``.
Every method raises only ``providers.errors.ProviderError`` subclasses.

Over 500 lines because it holds the whole contract: the dataclasses, the documented methods,
the one HTTP helper and the token cache; each part is small and read on its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, Protocol

import httpx
from django.core.cache import cache
from django.utils.dateparse import parse_datetime

from core import crypto, sms_parts, statuses
from providers.errors import (
    AuthError,
    InsufficientFunds,
    InvalidRequest,
    NotFound,
    NotSupported,
    PermanentError,
    ProviderError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from providers.hosts import guarded_client
from providers.http import parse_retry_after, redact_url, timeout

logger = logging.getLogger(__name__)

# Failures before a byte of the request left (a refused address is a ConnectError).
NOTHING_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)


@dataclass(frozen=True)
class CredentialField:
    """One field of an account's encrypted credentials blob, as the account form shows it."""

    name: str
    label: str
    secret: bool = True  # secrets are shown masked (last 4 characters) and never logged
    required: bool = True
    help_text: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    url: bool = False  # the value is where requests go: checked like a base URL (providers.hosts)


# --- What goes in -------------------------------------------------------------------------


@dataclass(frozen=True)
class VoicePayload:
    """A voice message: text to speech (plain ``text`` or ``ssml``) or a recorded announcement."""

    text: str = ""
    ssml: str = ""
    announcement_id: str = ""
    voice: str = ""  # BSG voice name (sonya, …) or Conpeek voice_definition_id
    language: str = ""  # e.g. "en"
    category: str = "marketing"  # BSG: otp, transactional or marketing

    @property
    def kind(self) -> str:
        """What the call plays: "announcement", "ssml" or "tts" (Capabilities.voice_kinds)."""
        return "announcement" if self.announcement_id else "ssml" if self.ssml else "tts"


@dataclass(frozen=True)
class OutgoingMessage:
    """One recipient. ``text``/``voice`` are set only when this recipient's content differs from
    the campaign's (personalised); ``variables`` fill a provider-side template's placeholders."""

    reference: str  # uuid4 hex, unique forever: our idempotency key at the provider
    phone: str  # E.164, "+77011234567"
    text: str | None = None
    voice: VoicePayload | None = None
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def digits(self) -> str:
        return self.phone.lstrip("+")


@dataclass(frozen=True)
class CampaignSpec:
    """What is shared by every message of a campaign."""

    sender: str
    channel: str = "sms"  # "sms" or "voice"
    text: str | None = None  # shared SMS text (or a template with {placeholders})
    voice: VoicePayload | None = None  # shared voice payload
    start_at: datetime | None = None  # aware datetime; None = now
    validity: timedelta | None = None
    rate_limit: int | None = None  # at most this many messages per ``rate_period``
    rate_period: timedelta = timedelta(minutes=1)
    flash: bool = False
    name: str = ""


@dataclass
class BatchState:
    """What the engine recorded about one provider-side campaign (one batch).

    Pass ``BatchState(key=…)`` for a new batch. An adapter that creates the provider campaign
    in several steps calls ``on_created(provider_campaign_id)`` as soon as it exists, so the
    engine can save it before anything is sent. Pass the saved id back (``launched=False``) to
    finish or relaunch that campaign instead of creating another one.
    """

    key: str = ""  # our stable id for this batch; tags the provider campaign's name/title
    since: datetime | None = None  # nothing of this batch was sent before then
    provider_campaign_id: str = ""  # the provider's id: to it, the batch is a campaign
    launched: bool = False
    on_created: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    # What a submit made of several calls got done so far (the adapter's own JSON-able notes,
    # e.g. the recipients Mobizon took): saved by the engine at each ``advanced`` and passed
    # back on the next try, so a retry after a rate limit goes on instead of starting over.
    progress: dict = field(default_factory=dict)
    # Called with the notes of each ``advanced`` alone (the keys it sets), not all progress:
    # the engine writes only those, so a note per call costs what that note weighs.
    on_progress: Callable[[dict], None] | None = field(default=None, compare=False, repr=False)

    def title(self, name: str) -> str:
        """A provider campaign name that carries our key, for finding it again by hand."""
        return " ".join(part for part in (name, f"[{self.key}]" if self.key else "") if part)

    def created(self, provider_campaign_id: str) -> None:
        self.provider_campaign_id = provider_campaign_id
        if self.on_created:
            self.on_created(provider_campaign_id)

    def advanced(self, **notes) -> None:
        """Record progress inside the batch (saved before the next request goes): ``notes``
        set top-level keys of ``progress``, as ``dict.update`` does. A note that grows call by
        call is cheaper kept under a new key a call than rewritten whole."""
        self.progress.update(notes)
        if self.on_progress:
            self.on_progress(notes)


# --- What comes out -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    """One message of a submitted batch: accepted (maybe with the provider's id) or rejected."""

    reference: str
    accepted: bool
    provider_message_id: str = ""
    error_code: str = ""
    reason: str = ""  # plain English, for a rejected message

    @property
    def status(self) -> str:
        return "queued" if self.accepted else "rejected"


@dataclass(frozen=True)
class Submission:
    """The answer to one ``submit`` call.

    ``launched`` is False when the provider holds the campaign but has not started it (smsdrop:
    not enough credits): record ``provider_campaign_id``, keep the messages waiting, and call
    ``submit`` again later with that id; the adapter relaunches instead of creating.
    """

    provider_campaign_id: str
    results: list[SubmitResult]
    launched: bool = True
    campaign_status: str = "sending"
    reason: str = ""


class NeverSent:
    """What ``reconcile`` returns when the provider certainly never took the batch (nothing
    that bills was ever requested): it may go again at once, without waiting ``settle_time``."""

    def __repr__(self) -> str:
        return "NEVER_SENT"


NEVER_SENT = NeverSent()


@dataclass(frozen=True)
class RemoteStats:
    """Counters of one provider campaign in the common statuses (every key present)."""

    counters: dict[str, int]
    campaign_status: str  # common campaign status ("unknown" = leave ours unchanged)
    raw_status: str
    cost: Decimal | None = None
    currency: str = ""
    total: int = 0

    @property
    def finished(self) -> bool:
        return self.campaign_status in statuses.FINISHED


@dataclass(frozen=True)
class MessageStatusReport:
    status: str  # common message status
    raw_status: str
    final: bool
    reference: str = ""
    provider_message_id: str = ""
    provider_campaign_id: str = ""  # when the provider says which campaign carried it
    cost: Decimal | None = None
    currency: str = ""
    updated_at: datetime | None = None
    # Why a message was not delivered, in the provider's own words (its error code and text,
    # or the documented meaning of its status); "" when it says nothing or it was delivered.
    error_code: str = ""
    error_reason: str = ""


@dataclass(frozen=True)
class ShortLink:
    """A short link the provider made for a campaign's text, with its visits so far."""

    code: str
    full_link: str
    short_link: str
    clicks: int = 0
    redirects: int = 0


@dataclass(frozen=True)
class QuoteLine:
    destination: str  # ISO country code, "" when the provider does not say
    messages: int
    total: Decimal


@dataclass(frozen=True)
class Quote:
    total: Decimal
    currency: str
    lines: tuple[QuoteLine, ...] = ()


@dataclass(frozen=True)
class ReportedSender:
    """A sender name as the provider reports it (the model is providers.models.SenderName)."""

    value: str
    status: str  # approved, pending or rejected (SenderName.Status)
    raw_status: str = ""


@dataclass(frozen=True)
class AccountInfo:
    currency: str = ""
    balance: Decimal | None = None  # money providers
    credits: int | None = None  # credit providers (smsdrop)
    senders: tuple[ReportedSender, ...] = ()
    login: str = ""  # who we are logged in as, when the provider says


@dataclass(frozen=True)
class RemoteCampaign:
    provider_campaign_id: str
    name: str
    status: str  # common campaign status
    raw_status: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; views and the engine branch on these, never on the slug."""

    channels: frozenset[str] = frozenset({"sms"})
    personalised_text: bool = False  # a different text per recipient in one batch
    personalised_voice: bool = False  # a different call text per recipient in one batch
    max_batch_size: int = 1000  # messages per ``submit`` call
    quote: bool = False
    stop: bool = False
    delete_before_start: bool = False
    status_by_reference: bool = False  # ``lookup_reference`` works
    message_status: bool = False  # ``message_statuses`` works
    short_links: bool = False  # ``links`` works
    campaign_stats: bool = True
    account_info: bool = True
    scheduling: bool = True
    min_lead_time: timedelta = timedelta(0)
    max_lead_time: timedelta | None = None
    min_validity: timedelta | None = None
    max_validity: timedelta | None = None
    rate_limit: bool = False
    flash: bool = False
    sms_sender_required: bool = False  # an SMS must name a sender; no account default exists
    flash_unicode: bool = True  # a flash SMS may carry text outside the GSM-7 alphabet
    voice_kinds: frozenset[str] = frozenset()  # of VoicePayload.kind, for a voice channel
    # The provider's documented voices and languages as (value, label), the default first.
    # Empty: the provider names none (Conpeek's voice definitions are the tenant's own ids).
    voices: tuple[tuple[str, str], ...] = ()
    voice_languages: tuple[tuple[str, str], ...] = ()
    # What a call is for, where the provider asks (BSG's Voice.category); empty: never sent.
    voice_categories: tuple[tuple[str, str], ...] = ()
    # How often campaigns.tracking.polling asks about a campaign in flight (CRIER_POLL_INTERVAL
    # overrides it for every provider).
    poll_interval: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class Refusal:
    """Why a provider would refuse a campaign before anything is sent: ``field`` names the
    CampaignSpec or VoicePayload field at fault ("channel", "text", "flash", "voice", …)."""

    field: str
    message: str
    unsupported: bool = False  # the provider cannot do it at all (NotSupported)

    def error(self) -> ProviderError:
        if self.unsupported:
            return NotSupported(self.message)
        return InvalidRequest(self.message, field=self.field)


VOICE_KINDS = {"tts": "text to speech", "ssml": "SSML", "announcement": "recorded announcements"}


def is_gsm7(text: str) -> bool:
    """GSM 03.38's basic set and extension table; text outside them needs UCS-2 (unicode)."""
    return sms_parts.is_gsm7(text)


def _span(value: timedelta | None) -> str:
    if value is None:
        return "any time"
    hours, rest = divmod(int(value.total_seconds()), 3600)
    return f"{hours} h" + (f" {rest // 60} min" if rest else "") if hours else f"{rest // 60} min"


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def to_decimal(value: object) -> Decimal | None:
    """Money from JSON (number, Decimal or numeric string such as Mobizon's "16.2000")."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def to_datetime(value: object) -> datetime | None:
    """ISO-8601 or "YYYY-MM-DD HH:MM:SS" from a provider; None when absent or unreadable."""
    if not value:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


def _safe_url(url: str, params: Any) -> str:
    """The request's URL for logs, credentials hidden (a malformed one is refused later)."""
    try:
        return redact_url(httpx.URL(url, params=params))
    except httpx.InvalidURL:
        return "(a malformed URL)"


class Pace(Protocol):
    """Where an adapter keeps the quiet a provider asked for (HTTP 429 with Retry-After), so
    that every adapter on the same account, in any process, waits it out. ProviderAccount is
    one."""

    def quiet_left(self) -> datetime | None:
        """When the quiet ends, if it has not ended yet."""

    def quiet_for(self, seconds: float) -> object:
        """The provider asked for ``seconds`` of quiet from now."""

    def exclusive(self) -> AbstractContextManager:
        """Held around each request, from the quiet check until the answer is read: one
        request at a time to the account, in every process (providers.gate)."""


class ProviderAdapter:
    """Talks to one provider account. Subclasses are short and mostly declarative.

    Construct with the account's base URL (blank means the documented host, see
    ``resolve_base_url``) and its decrypted credentials dict. Tests may pass an ``httpx.Client``
    (e.g. one with a respx or mock transport); by default the adapter makes its own.
    """

    slug: ClassVar[str]
    label: ClassVar[str]
    # The provider's documented production host; ``resolve_base_url`` may refine it from the
    # credentials (Mobizon's regional domain, Conpeek's tenant URL).
    default_base_url: ClassVar[str] = ""
    # Hosts a workspace may point the account at (its base URL, a credential field with
    # ``url=True``) without the server's leave (providers.hosts): "host" or "host:port", and
    # "*.example.com" for any subdomain. Empty: default_base_url's host.
    documented_hosts: ClassVar[tuple[str, ...]] = ()
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()
    # Sentence for an HTTP 429 from this provider; blank: "<label> asked Crier to slow down; …".
    rate_limit_message: ClassVar[str] = ""
    # How long the provider may still be working on a sending request after it arrived. A
    # lookup that finds nothing proves the batch was never taken only once this has passed
    # since the request could last have reached the provider (campaigns.sending.engine waits for it
    # before sending again). Each adapter says why its figure is long enough.
    # CRIER_RECONCILE_SETTLE_SECONDS overrides it for every provider.
    settle_time: ClassVar[timedelta] = timedelta(minutes=10)

    def __init__(
        self,
        *,
        base_url: str = "",
        credentials: dict[str, str] | None = None,
        client: httpx.Client | None = None,
        pace: Pace | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
    ):
        """``client``: one the caller owns and closes (tests); otherwise the adapter builds its
        own on first use (guarded, CRIER_PROVIDER_TIMEOUT) and closes it on ``close``.
        ``on_request`` is called before every request leaves (the engine renews its lease)."""
        self.credentials = dict(credentials or {})
        self.base_url = (base_url or self.resolve_base_url(self.credentials)).rstrip("/")
        self._client = client
        self.pace = pace
        self.on_request = on_request
        self._holding_gate = False

    @classmethod
    def resolve_base_url(cls, credentials: dict[str, str]) -> str:
        """The documented host for these credentials when the account sets no base URL."""
        return cls.default_base_url

    @classmethod
    def hosts(cls) -> tuple[str, ...]:
        """``documented_hosts``, or the host of ``default_base_url``."""
        return cls.documented_hosts or (httpx.URL(cls.default_base_url).host,)

    # --- The contract. Each raises NotSupported unless the provider overrides it. ------------

    def account_info(self) -> AccountInfo:
        """Balance or credits, currency and sender names. Raises AuthError on bad credentials."""
        raise self.unsupported("checking the balance")

    def quote(self, spec: CampaignSpec, messages: Sequence[OutgoingMessage]) -> Quote:
        """The provider's own price for sending ``spec`` to ``messages``; nothing is sent."""
        raise self.unsupported("price quotes")

    def submit(
        self, spec: CampaignSpec, messages: Sequence[OutgoingMessage], state: BatchState
    ) -> Submission:
        """Send one batch (at most ``capabilities.max_batch_size`` messages) as one provider
        campaign, or finish/relaunch the one named by ``state.provider_campaign_id``.

        Returns a Submission with one SubmitResult per message, in order. Raises
        InvalidRequest/InsufficientFunds/AuthError when nothing was sent, TemporaryError or
        RateLimited when it is safe to call again, UnknownOutcome when the provider may
        have acted (reconcile before sending again), and DuplicateReference when the provider
        says it has the batch already (it was taken: reconcile, never send again).
        """
        raise NotImplementedError

    def reconcile(
        self, spec: CampaignSpec, messages: Sequence[OutgoingMessage], state: BatchState
    ) -> Submission | None:
        """After an UnknownOutcome, or a worker that died in the middle of ``submit``, find out
        what the provider did with this batch, without sending anything.

        Returns a Submission (one result per message, as ``submit`` would have) when the
        provider took the batch, NEVER_SENT when it certainly did not, or None when it found
        no trace of it. None is evidence only
        once ``settle_time`` has passed since the last sending request: before that the
        provider may still be working on it, and the engine looks again later. Raises
        NotSupported when the provider offers no way to tell: the messages are then unknown
        and must never be resent automatically.
        """
        raise self.unsupported("looking up a batch that may have been sent")

    def campaign(self, provider_campaign_id: str) -> RemoteCampaign:
        """One provider campaign's name and status. Raises NotFound if unknown."""
        raise self.unsupported("reading a campaign")

    def campaign_stats(self, provider_campaign_id: str) -> RemoteStats:
        """Counters, cost and status of one provider campaign. Raises NotFound if unknown."""
        raise self.unsupported("campaign statistics")

    def message_statuses(
        self, provider_campaign_id: str, provider_message_ids: Sequence[str] = ()
    ) -> list[MessageStatusReport]:
        """Per-message statuses of a provider campaign (or of the given provider message ids,
        for providers that look messages up by id). Unknown ids are left out."""
        raise self.unsupported("per-message statuses")

    def lookup_reference(self, reference: str) -> MessageStatusReport | None:
        """The message we submitted with ``reference``, or None if the provider never got it."""
        raise self.unsupported("looking messages up by reference")

    def links(self, provider_campaign_id: str) -> list[ShortLink]:
        """The short links of a campaign's text with their clicks ([] for none)."""
        raise self.unsupported("short link statistics")

    def stop(self, provider_campaign_id: str) -> str:
        """Stop a running or scheduled campaign; returns the common campaign status after it."""
        raise self.unsupported("stopping a campaign")

    def delete(self, provider_campaign_id: str) -> None:
        """Delete a campaign that has not started yet; PermanentError (with why) if too late."""
        raise self.unsupported("deleting a campaign")

    def list_campaigns(self) -> list[RemoteCampaign]:
        """The most recent provider campaigns (one page)."""
        raise self.unsupported("listing campaigns")

    def check_batch(
        self, messages: Sequence[OutgoingMessage], spec: CampaignSpec | None = None
    ) -> None:
        """Refuse, before any request, a batch the provider would take wrongly or not at all
        (the first of ``refusals``): a provider that silently ignores a start time or a
        personalised text is worse than a refusal."""
        if problems := self.refusals(messages, spec):
            raise problems[0].error()

    @classmethod
    def refusals(
        cls, messages: Sequence[OutgoingMessage], spec: CampaignSpec | None = None
    ) -> list[Refusal]:
        """Every reason ``submit`` would refuse this batch, from ``capabilities`` alone (no
        request): too large, or asking for what the provider cannot do. Crier checks a
        campaign with it before launch, so what passes here is what ``submit`` takes."""
        caps, problems = cls.capabilities, []
        if len(messages) > caps.max_batch_size:
            problems.append(
                Refusal(
                    "messages",
                    f"{cls.label} takes at most {caps.max_batch_size:,} messages "
                    f"per batch; this one has {len(messages):,}.",
                )
            )
        if spec is None:
            return problems
        if spec.channel not in caps.channels:
            return [*problems, cls._no("channel", f"{spec.channel} campaigns")]
        personalised = any(m.text is not None or m.voice or m.variables for m in messages)
        if personalised and not caps.personalised_text:
            problems.append(cls._no("text", "a different text per recipient"))
        if spec.start_at is not None and not caps.scheduling:
            problems.append(cls._no("start_at", "a scheduled start"))
        if spec.validity is not None:
            problems += cls._validity_refusals(spec.validity)
        if spec.channel == "sms":
            return problems + cls._sms_refusals(spec, messages)
        voice = spec.voice or next((m.voice for m in messages if m.voice), None)
        return problems + (cls._voice_refusals(voice) if voice else [])

    @classmethod
    def _sms_refusals(cls, spec: CampaignSpec, messages) -> list[Refusal]:
        caps, problems = cls.capabilities, []
        if caps.sms_sender_required and not spec.sender:
            problems.append(
                Refusal("sender", f"{cls.label} needs a sender name on every SMS: choose one.")
            )
        if spec.flash and not caps.flash:
            problems.append(cls._no("flash", "flash SMS"))
        texts = [spec.text or "", *(m.text for m in messages if m.text is not None)]
        if spec.flash and caps.flash and not caps.flash_unicode and not all(map(is_gsm7, texts)):
            problems.append(
                Refusal(
                    "flash",
                    f"{cls.label} sends flash SMS in the GSM alphabet only, and this text has "
                    "other characters (Cyrillic, emoji or typographic quotes, for example): "
                    "turn flash off or write the text in plain Latin characters.",
                    unsupported=True,
                )
            )
        return problems

    @classmethod
    def _voice_refusals(cls, voice: VoicePayload) -> list[Refusal]:
        caps, problems = cls.capabilities, []
        if voice.kind not in caps.voice_kinds:
            problems.append(cls._no("voice_kind", f"voice messages as {VOICE_KINDS[voice.kind]}"))
        for name, value, choices in (
            ("voice", voice.voice, caps.voices),
            ("language", voice.language, caps.voice_languages),
            ("category", voice.category, caps.voice_categories),
        ):
            if choices and value not in dict(choices):
                known = ", ".join(label for _, label in choices)
                problems.append(
                    Refusal(name, f"{cls.label} knows the {name}s {known}: choose one of them.")
                )
        return problems

    @classmethod
    def _validity_refusals(cls, validity: timedelta) -> list[Refusal]:
        low, high = cls.capabilities.min_validity, cls.capabilities.max_validity
        if low is None and high is None:
            return [cls._no("validity", "a validity period")]
        if (low and validity < low) or (high and validity > high):
            return [
                Refusal(
                    "validity",
                    f"{cls.label} keeps trying a message for {_span(low)} to {_span(high)}; "
                    f"{_span(validity)} is outside that.",
                )
            ]
        return []

    @classmethod
    def _no(cls, field: str, what: str) -> Refusal:
        return Refusal(field, f"{cls.label} does not offer {what}.", unsupported=True)

    def unsupported(self, what: str) -> NotSupported:
        return NotSupported(f"{self.label} does not offer {what}.")

    # --- HTTP: every call goes through ``request`` ---------------------------------------------

    @cached_property
    def http(self) -> httpx.Client:
        hooks = {"request": [self.on_request]} if self.on_request else None
        return self._client or guarded_client(self.slug, timeout=timeout(), event_hooks=hooks)

    def close(self) -> None:
        if self._client is None and "http" in self.__dict__:
            self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request (hook)."""
        return {}

    def refresh_auth(self) -> bool:
        """Called on a 401: drop cached tokens and return True to retry once (hook)."""
        return False

    def request(
        self, method: str, path: str, *, sends: bool = False, authenticate: bool = True, **kwargs
    ) -> httpx.Response:
        """Make one HTTP call and raise the right ProviderError for a failed one.

        ``sends`` marks a call that changes something at the provider (creates, adds, sends):
        a lost or garbled answer to it is UnknownOutcome instead of TemporaryError.
        """
        with self._one_at_a_time():
            return self._request(method, path, sends=sends, authenticate=authenticate, **kwargs)

    @contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        """The account's gate (``Pace.exclusive``), once per adapter: a login made inside a
        request is part of it."""
        if self.pace is None or self._holding_gate:
            yield
            return
        with self.pace.exclusive():
            self._holding_gate = True
            try:
                yield
            finally:
                self._holding_gate = False

    def _request(
        self, method: str, path: str, *, sends: bool, authenticate: bool, **kwargs
    ) -> httpx.Response:
        if self.pace and (until := self.pace.quiet_left()):
            raise RateLimited(
                f"{self.label} asked Crier to wait; Crier will try again after that.",
                retry_after=max((until - datetime.now(until.tzinfo)).total_seconds(), 0.1),
                detail="waiting out an earlier Retry-After",
            )
        url = path if "://" in path else self.base_url + path  # a second host of the provider
        extra_headers = kwargs.pop("headers", {})
        for attempt in (1, 2):
            headers = {"Accept": "application/json", **extra_headers}
            if authenticate:
                headers.update(self.auth_headers())
            response = self._send(method, url, headers=headers, sends=sends, **kwargs)
            retry = response.status_code == 401 and authenticate and attempt == 1
            if not (retry and self.refresh_auth()):
                break
        try:
            self.raise_for_response(response)
        except RateLimited as error:
            if self.pace and error.retry_after:  # every caller on the account waits it out
                self.pace.quiet_for(error.retry_after)
            raise
        except TemporaryError as error:
            # 503 says the server did not take the request at all; any other failure after
            # the request arrived (500, a gateway's 502/504) may hide work that was done.
            if sends and error.code != "503":
                raise UnknownOutcome(
                    f"{self.label} failed after receiving the request, so it may have been "
                    "accepted. Crier will check before sending anything again.",
                    code=error.code,
                    detail=error.detail,
                ) from None
            raise
        return response

    def _send(self, method: str, url: str, *, sends: bool, **kwargs) -> httpx.Response:
        """One request. Whatever went wrong on the way, the user reads only that the provider
        could not be reached (never whether a port was closed, silent or refused by
        providers.hosts); only a call that ``sends`` and lost its answer says it may have been
        taken, which the engine needs (UnknownOutcome)."""
        safe_url = _safe_url(url, kwargs.get("params"))
        try:
            response = self.http.request(method, url, **kwargs)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            detail = f"{method} {safe_url}: {type(exc).__name__}: {exc}"
            if not sends:
                raise TemporaryError(
                    f"Could not reach {self.label}. Crier will try again.", detail=detail
                ) from None
            if isinstance(exc, NOTHING_SENT):
                raise TemporaryError(
                    f"Could not reach {self.label}; nothing was sent. Crier will try again.",
                    detail=detail,
                ) from None
            # A timeout or a dropped connection once the request may have gone out.
            raise UnknownOutcome(
                f"{self.label} did not answer in time. It may have accepted the request; "
                "Crier will check.",
                detail=detail,
            ) from None
        logger.debug("%s %s -> %s", method, safe_url, response.status_code)
        return response

    def raise_for_response(self, response: httpx.Response) -> None:
        """Raise the ProviderError for a failed response. Providers override this to read their
        own error bodies first, then call ``super()`` for the generic HTTP mapping."""
        status = response.status_code
        detail = f"HTTP {status}"
        if status == 429:
            raise RateLimited(
                self.rate_limit_message
                or f"{self.label} asked Crier to slow down; Crier will wait and try again.",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                code=status,
                detail=detail,
            )
        if status >= 500:
            raise TemporaryError(
                f"{self.label} had an internal error. Crier will try again.",
                code=status,
                detail=detail,
            )
        if 300 <= status < 400:  # redirects are not followed: the credentials stay here
            raise TemporaryError(
                f"Could not reach {self.label}. Crier will try again.", code=status, detail=detail
            )
        if status < 400:
            return
        if status in (401, 403):
            raise AuthError(
                f"{self.label} did not accept the account's credentials, or does not allow "
                "this account to do that.",
                code=status,
                detail=detail,
            )
        if status == 402:  # Payment Required: out of balance or credits, whoever says it
            raise InsufficientFunds(
                f"{self.label} says the account's balance or credits do not cover this.",
                code=status,
                detail=detail,
            )
        if status == 404:
            raise NotFound(f"{self.label} could not find that campaign.", code=status)
        if status in (400, 409, 422):
            raise InvalidRequest(f"{self.label} rejected the request.", code=status, detail=detail)
        raise PermanentError(f"{self.label} refused the request.", code=status, detail=detail)

    def decode(self, response: httpx.Response, *, sends: bool = False) -> Any:
        """The JSON body, with every decimal number as Decimal. A garbled body is
        TemporaryError for a read and UnknownOutcome for a call that ``sends``."""
        if not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            error_class: type[ProviderError] = UnknownOutcome if sends else TemporaryError
            raise error_class(
                f"{self.label} sent an answer Crier could not read."
                + (" It may have accepted the request; Crier will check." if sends else ""),
                detail=f"malformed JSON, HTTP {response.status_code}",
            ) from None

    def call(self, method: str, path: str, *, sends: bool = False, **kwargs) -> Any:
        """``request`` + ``decode``: the decoded JSON body of a successful call."""
        return self.decode(self.request(method, path, sends=sends, **kwargs), sends=sends)


class TokenLoginMixin:
    """For providers that trade credentials for a bearer token: cached in Django's cache under a
    hash of the credentials and base URL (never the secrets themselves), encrypted with the
    same keys as the credentials (a token in Redis is as good as the password), renewed on a
    401."""

    token_ttl: ClassVar[int] = 50 * 60  # [INFERRED] neither provider documents a lifetime
    token_key: ClassVar[str] = ""  # where the login answer carries the token

    def token_in(self, body: Any) -> str:
        """The token of a login answer; a provider that answers a login without one has
        failed, and says so instead of a KeyError (a 500 on Test connection)."""
        token = body.get(self.token_key) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TemporaryError(
                f"{self.label} answered the login without a token. Crier will try again.",
                detail=f"no {self.token_key!r} in the login answer",
            )
        return token

    def fetch_token(self) -> str:
        raise NotImplementedError

    def token_cache_key(self) -> str:
        secrets = "\0".join(self.credentials.get(f.name, "") for f in self.credential_fields)
        digest = hashlib.sha256(f"{self.base_url}\0{secrets}".encode()).hexdigest()
        return f"crier:provider-token:{self.slug}:{digest}"

    def auth_headers(self) -> dict[str, str]:
        key = self.token_cache_key()
        token = self._cached_token(key)
        if not token:
            token = self.fetch_token()
            cache.set(key, crypto.encrypt({"token": token}), self.token_ttl)
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def _cached_token(key: str) -> str:
        try:
            return crypto.decrypt(cache.get(key) or "").get("token", "")
        except crypto.CredentialsUnreadable:  # cached before a key rotation: log in again
            return ""

    def refresh_auth(self) -> bool:
        cache.delete(self.token_cache_key())
        return True
