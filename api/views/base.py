"""What every API view shares: key authentication, scopes, the per-key rate limit,
problem-details errors, idempotent POSTs, the audit log's "via", and the pages in id order."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from api import idempotency, problems
from api.keys import KeyAuthentication, ScopePermission
from api.models import Scope
from audit import log

logger = logging.getLogger(__name__)


class KeyRateThrottle(SimpleRateThrottle):
    """CRIER_API_RATE requests per key (``100/s``, ``6000/min``), counted in the cache: per
    process with the default local-memory cache, across processes with a shared one."""

    scope = "api_key"

    def get_rate(self):
        return settings.CRIER_API_RATE

    def allow_request(self, request, view):
        if getattr(request._request, "counted_by_short_way", False):
            return True  # api/fast.py counted it, then passed it on (an opted-out number)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        key = getattr(request._request, "api_key", None)
        return None if key is None else f"crier:api-rate:{key.prefix}"


class ApiView(APIView):
    authentication_classes = [KeyAuthentication]
    permission_classes = [ScopePermission]
    throttle_classes = [KeyRateThrottle]
    write_scope = Scope.SEND  # what a non-GET needs, unless ``scopes`` says otherwise

    _claimed = None
    _via = None
    _atomic = None
    prepared = None

    def prepare(self, request, *args, **kwargs):
        """What the request needs from the network (a provider's balance), read after the key,
        its scopes and its rate are checked and before the transaction of an idempotent POST
        opens, so no lock is held while a provider answers (review r23); kept as ``prepared``."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request._request.api_key
        self._via = log.via.set(f"API key {key.prefix} ({key.name})")
        self.prepared = self.prepare(request, *args, **kwargs)
        if request.method == "POST" and request.headers.get(idempotency.HEADER):
            # The key's claim, the work and the answer commit together or not at all
            # (api.idempotency): a request that dies half-way leaves no claim behind.
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
        self._claimed = idempotency.claim(request, key)

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            logger.exception("API request failed: %s %s", self.request.method, self.request.path)
            return problems.server_error()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._claimed is not None:
            idempotency.keep(self._claimed, response)
            self._claimed = None
        return response

    def dispatch(self, request, *args, **kwargs):
        try:
            response = super().dispatch(request, *args, **kwargs)
        except BaseException as error:
            if self._atomic is not None:  # rolled back: the work goes with its claim
                self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        else:
            if self._atomic is not None:  # keep() marked it for rollback on a 5xx
                self._atomic.__exit__(None, None, None)
            return response
        finally:
            if self._via is not None:
                log.via.reset(self._via)


class _Pages(CursorPagination):
    """A cursor is opaque but comes back from the client: a position edited by hand (or
    mangled on the way) is refused as DRF refuses an undecodable cursor, not a 500 from the
    query it would have filtered by (review r22)."""

    def position_is_valid(self, position: str) -> bool:
        raise NotImplementedError

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        position = None if cursor is None else cursor.position
        if position is not None and not self.position_is_valid(position):
            raise NotFound(self.invalid_cursor_message)
        return cursor


class ByNewest(_Pages):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def position_is_valid(self, position: str) -> bool:
        try:
            return parse_datetime(position) is not None
        except ValueError:  # well formed but out of range ("2026-13-45T00:00")
            return False


class ById(_Pages):
    ordering = "id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def position_is_valid(self, position: str) -> bool:
        return position.isascii() and position.isdigit() and len(position) < 19


def few_changed(messages, campaign=None):
    """``messages`` changed since a time, as their ids when ``campaign``'s (None: left as
    they are) and fewer than FEW_CHANGED: read in (campaign, updated_at) order, which only
    that index serves. In id order PostgreSQL multiplies the campaign's share of the table by
    the share changed since then in any campaign, so when others moved it walks the primary
    key past every row: over a million, none changed and 100,000 of another campaign just
    now, 0.37-0.44 s -> 2-5 ms. More changed, the probe (under a millisecond) is dropped."""
    if campaign is None:
        return messages
    ids = messages.order_by("campaign_id", "updated_at").values_list("pk", flat=True)
    ids = list(ids[:FEW_CHANGED])
    return messages.filter(pk__in=ids) if len(ids) < FEW_CHANGED else messages


FEW_CHANGED = 200


# How far apart the clocks of the web, the workers and the database may be.
CLOCK_SKEW = timedelta(seconds=10)


def changes_since(since):
    """The time to read ``?updated_since=`` from so that no change is lost: a change is
    stamped when its transaction writes it but seen only once it commits, so a client that
    read at T and asks for the changes since T would miss what a transaction open at T
    (a tracking poll, an import) commits later, stamped earlier (review r22). So the read
    starts at the oldest open write transaction's start when that is earlier (PostgreSQL's
    pg_stat_activity; elsewhere writes are one at a time and short), less CLOCK_SKEW, for
    the stamps come from the web's and the workers' clocks. Pages may repeat a change the
    client saw already (docs/api.md)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = "
                "current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
            (oldest,) = cursor.fetchone()
        if oldest is not None and oldest < since:
            since = oldest
    return since - CLOCK_SKEW


def changed_since(messages, since, campaign=None):
    """``messages`` changed at or after ``since`` (``?updated_since=``), of ``campaign``'s
    through few_changed."""
    return few_changed(messages.filter(updated_at__gte=changes_since(since)), campaign)
