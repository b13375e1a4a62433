"""Small HTTP helpers shared by ``ProviderAdapter.request``: timeouts, Retry-After, redaction."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from django.conf import settings

# Connect quickly or give up: a request that never connected sent nothing.
CONNECT_TIMEOUT = 5.0


def timeout() -> httpx.Timeout:
    """How long a provider request may take: CRIER_PROVIDER_TIMEOUT for the answer (read when a
    client is built, so every request of every kind obeys the setting), CONNECT_TIMEOUT to
    connect."""
    return httpx.Timeout(settings.CRIER_PROVIDER_TIMEOUT, connect=CONNECT_TIMEOUT)


# Query keys whose values are credentials (Mobizon puts apiKey in the query string).
SECRET_QUERY_KEYS = frozenset({"apikey", "api_key", "token", "access_token", "password", "key"})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redact_url(url: str | httpx.URL) -> str:
    """The URL with every credential-looking query value replaced by ``***``."""
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = [
        (key, "***" if key.lower() in SECRET_QUERY_KEYS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]*")))


def flatten_form(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """PHP bracket form fields: ``{"data": {"type": 2}}`` -> ``[("data[type]", "2")]``.

    A list of scalars becomes ``key[]=a&key[]=b`` (Mobizon's documented form); a list of dicts
    is indexed, ``key[0][recipient]=…``. None values are left out.
    """
    fields: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, dict):
            fields += flatten_form(value, name)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    fields += flatten_form(item, f"{name}[{index}]")
                else:
                    fields.append((f"{name}[]", str(item)))
        else:
            fields.append((name, str(value)))
    return fields


def json_or_none(response: httpx.Response) -> Any:
    """The JSON body for error handling, or None when there is none or it is garbled."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


class RedactingFilter(logging.Filter):
    """httpx logs every request URL at INFO; Mobizon's carries the API key. Redact it there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, RedactingFilter) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(RedactingFilter())
