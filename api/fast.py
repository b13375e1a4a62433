"""The short way for POST /api/v1/messages: a single SMS through a route that has its open
campaign already, answered before the rest of the middleware and Django REST framework.

A web process spends about 11 ms of CPU on a single message through the whole stack
(sessions, messages, CSP, the URL resolver, DRF's request, authentication, serializers and
the ORM's compiling of each query): 75 a second. The short way does what that path does for
the plain case, in a fraction of it: the key, its workspace and the route's open campaign in
one statement (campaigns.open_route), the body checked by hand against
SingleMessageSerializer's rules and DRF's JSON parsing, the campaign's checks
(campaigns.transactional.check), the per-key rate limit, and the message stored with the
others of the moment in one commit (campaigns.grouped).

Anything else goes the whole way, which answers it as before: no key or a refused one, a key
without the send scope, an Idempotency-Key, a query string, an Accept header that does not
take JSON, a body that is not plainly valid UTF-8 JSON of the expected types, a call, a voice
or language, a route without an open campaign yet, any check that refuses (the whole way
words the error), the rate limit reached, an opted-out number, and a campaign closed while
the message waited (campaigns.grouped). So an error always comes from one place, and the
short way only ever answers 202 (or 500 when the database failed while storing). Its answer
skips the middleware after it (sessions, CSP, X-Frame-Options: nothing a JSON answer needs);
SecurityMiddleware, before it, still applies. tests/api/test_fast.py and
test_fast_review.py hold the two ways to the same answers.
"""

from __future__ import annotations

import hmac
import json
import logging

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone

from api import keys, problems
from api.models import ApiKey, Scope
from api.serializers import MAX_ID, MessageSerializer
from api.views.base import KeyRateThrottle
from campaigns import grouped, open_route, transactional
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

MOST_BYTES = 64 * 1024  # a bigger body goes the whole way
_FIELDS = MessageSerializer.Meta.fields


class FastMessagesMiddleware:
    """Answers a plain single SMS (see the module); every other request passes on."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = None

    def __call__(self, request):
        if request.method == "POST":
            if self.path is None:
                self.path = reverse("api_messages")
            if request.path_info == self.path:
                response = accept(request)
                if response is not None:
                    return response
        return self.get_response(request)


class _Key:
    """The few columns of an API key the short way needs."""

    __slots__ = ("default_country", "pk", "prefix", "stale", "workspace_id")

    def __init__(self, pk, prefix, workspace_id, default_country, stale):
        self.pk, self.prefix, self.workspace_id = pk, prefix, workspace_id
        self.default_country, self.stale = default_country, stale


class _Shim:
    """What KeyRateThrottle reads of a DRF request."""

    def __init__(self, request):
        self._request = request
        self.META = request.META


def accept(request) -> HttpResponse | None:
    """The 202 for a plain single SMS, or None: the whole way answers."""
    meta = request.META
    if "HTTP_IDEMPOTENCY_KEY" in meta or meta.get("QUERY_STRING") or not _takes_json(meta):
        return None
    given = _given(request)
    if given is None:
        return None
    found = _read(meta.get("HTTP_AUTHORIZATION", ""), given["account_id"], given["sender"])
    if found is None:
        return None
    key, campaign = found
    try:
        prepared = transactional.check(
            campaign,
            key.default_country,
            to=given["to"],
            text=given["text"],
            fields=given["fields"],
        )
    except transactional.Refused:
        return None
    request.api_key = key
    if not KeyRateThrottle().allow_request(_Shim(request), None):
        return None
    request.counted_by_short_way = True  # the whole way's throttle lets it pass
    if key.stale:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    try:
        message = transactional.store(prepared)
    except grouped.NotStored:
        logger.exception("A single message could not be stored")
        return JsonResponse(
            problems.body(
                "server-error",
                "Crier could not store this message and cannot tell whether it did: look for "
                "it by GET /api/v1/messages before sending it again, or send it with an "
                "Idempotency-Key.",
            ),
            status=500,
            content_type=problems.PROBLEM_CONTENT_TYPE,
        )
    if message is None:
        return None  # opted out, or the campaign closed: the whole way answers
    text = json.dumps(_represent(message), ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(
        # As DRF's JSONRenderer writes them, for JSON read as JavaScript.
        text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"),
        status=202,
        content_type="application/json",
    )
    response["Allow"] = "GET, POST, HEAD, OPTIONS"
    response["Vary"] = "Accept"
    response["Content-Length"] = str(len(response.content))  # as CommonMiddleware sets it
    return response


_SQL: dict[str, str] = {}


def _read(header: str, account_id: int, sender: str) -> tuple[_Key, object] | None:
    """The active key with the send scope that ``header`` carries and its workspace's open
    campaign of the route (campaigns.open_route), in one statement; None if either is missing
    or the read failed (the whole way then reconnects and answers)."""
    # WSGI gives the header as Latin-1 text: back to its bytes, read as KeyAuthentication does.
    words = keys.bearer(header.encode("latin-1", "replace"))
    if len(words) != 2 or words[0].lower() != b"bearer":
        return None
    try:
        parts = keys.split(words[1].decode())
    except UnicodeDecodeError:
        return None
    if parts is None:
        return None
    prefix, secret = parts
    route = open_route.route()
    sql = _SQL.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _SQL[connection.vendor] = (
            "SELECT k.id, k.secret_hash, k.scopes, k.workspace_id, w.default_country, "
            f"(k.last_used_at IS NULL OR k.last_used_at < %s), {route.columns} "
            f"FROM {quote(ApiKey._meta.db_table)} k "
            f"JOIN {quote(Workspace._meta.db_table)} w ON w.id = k.workspace_id "
            f"{route.joins('k.workspace_id')} "
            "WHERE k.prefix = %s AND k.revoked_at IS NULL"
        )
    params = [timezone.now() - keys.TOUCH_EVERY, *route.params(account_id, sender), prefix]
    try:
        found = _fetch_one(sql, params)
    except DatabaseError:
        connection.close()
        return None
    if found is None:
        return None
    pk, secret_hash, scopes, workspace_id, default_country, stale, *columns = found
    if not hmac.compare_digest(secret_hash, keys.hash_secret(secret)):
        return None
    if isinstance(scopes, str):
        scopes = json.loads(scopes)
    campaign = route.build(columns)
    if Scope.SEND not in scopes or campaign is None:
        return None
    return _Key(pk, prefix, workspace_id, default_country, bool(stale)), campaign


def _fetch_one(sql: str, params: list):
    """One row, on PostgreSQL straight through psycopg on the request's open connection:
    neither Django's cursor wrapper nor its per-request health check (a statement of its own);
    a connection that broke meanwhile fails this read, which nothing depended on."""
    raw = connection.connection
    if connection.vendor == "postgresql" and raw is not None and not raw.closed:
        # psycopg's errors as Django's (DatabaseError), and marked on the connection. Bound
        # and prepared on the server: planned once per connection, not written out each time.
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _takes_json(meta) -> bool:
    """Whether DRF's negotiation would answer in JSON (its only renderer): no Accept header,
    or one naming JSON or a wildcard, with no quality weighing (left to DRF)."""
    accept = meta.get("HTTP_ACCEPT", "")
    if not accept:
        return True
    if "q=0" in accept.replace(" ", ""):
        return False  # a quality that may refuse a type: DRF weighs it
    ranges = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return bool(ranges & {"application/json", "application/*", "*/*"})


def _reject_constant(name):
    raise ValueError(name)


def _given(request) -> dict | None:
    """The body's fields when they plainly pass SingleMessageSerializer for an SMS, else None."""
    if request.content_type != "application/json":
        return None
    if request.content_params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        return None
    try:
        if not 0 < int(request.META.get("CONTENT_LENGTH") or 0) <= MOST_BYTES:
            return None
        # As DRF's JSONParser reads it: strict UTF-8 (no BOM, no other encoding, no encoded
        # surrogate), no NaN or Infinity; too deep a nesting is not for the short way either.
        data = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    account = data.get("account")
    if type(account) is not int or not 1 <= account <= MAX_ID:
        return None
    if data.get("channel", "sms") != "sms":
        return None
    if data.get("voice", "") != "" or data.get("language", "") != "":
        return None  # only a call has them; anything else the whole way refuses
    to = _text(data.get("to"), 64)
    text = _text(data.get("text"), 2_000)
    sender = _text(data.get("sender", ""), 40, blank=True)
    if to is None or text is None or sender is None:
        return None
    given = {"account_id": account, "to": to, "text": text, "sender": sender, "fields": None}
    if "fields" in data:
        fields = data["fields"]
        if not isinstance(fields, dict):
            return None
        given["fields"] = {}
        for name, value in fields.items():
            value = _text(value, 1_000, blank=True)
            if value is None:
                return None
            given["fields"][name] = value
    return given


def _text(value, most: int, blank: bool = False) -> str | None:
    """A DRF CharField's value (trimmed; no NUL, no lone surrogate), or None if it would
    refuse it or take it only by converting it."""
    if type(value) is not str:
        return None
    value = value.strip()
    if (not value and not blank) or len(value) > most or "\x00" in value:
        return None
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return None
    return value


def _represent(message) -> dict:
    """MessageSerializer's answer for a message just stored, without building a serializer."""
    out = {}
    for name in _FIELDS:
        value = getattr(message, "campaign_id" if name == "campaign" else name)
        if name in ("created_at", "updated_at"):
            value = _iso(value)
        out[name] = value
    return out


def _iso(value) -> str:
    """As DRF writes a time: in the default zone (the API answers in UTC), +00:00 as Z."""
    if value.utcoffset() or settings.TIME_ZONE != "UTC":
        value = timezone.localtime(value, timezone.get_default_timezone())
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
