"""The one HTTP helper on ProviderAdapter: timeouts, errors by status, Retry-After, redaction."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from providers.base import ProviderAdapter
from providers.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
    NotSupported,
    PermanentError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from providers.http import CONNECT_TIMEOUT, flatten_form, parse_retry_after, redact_url
from tests.providers.conftest import MOBIZON_KEY

BASE = "https://provider.test"


class Plain(ProviderAdapter):
    slug = "plain"
    label = "Plain"
    default_base_url = BASE


@pytest.fixture
def plain():
    return Plain()


def test_default_client_is_real_httpx_with_documented_timeouts(plain):
    assert isinstance(plain.http, httpx.Client)
    assert plain.http.timeout == httpx.Timeout(30.0, connect=5.0)
    assert plain.http.timeout.connect == 5.0
    assert plain.http.timeout.read == 30.0


def test_injected_client_is_used():
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[1])))
    assert Plain(client=client).call("GET", "/x") == [1]


def test_json_floats_become_decimals(api, plain):
    api.get(f"{BASE}/x").respond(200, content=b'{"price": 0.1, "n": 3}')
    data = plain.call("GET", "/x")
    assert data == {"price": Decimal("0.1"), "n": 3}
    assert isinstance(data["price"], Decimal)


def test_429_with_retry_after_seconds(api, plain):
    api.get(f"{BASE}/x").respond(429, headers={"Retry-After": "17"})
    with pytest.raises(RateLimited) as caught:
        plain.call("GET", "/x")
    assert caught.value.retry_after == 17.0


def test_429_with_retry_after_http_date(api, plain):
    when = datetime.now(UTC) + timedelta(seconds=120)
    api.get(f"{BASE}/x").respond(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(RateLimited) as caught:
        plain.call("GET", "/x")
    assert 115 <= caught.value.retry_after <= 120


def test_429_without_retry_after_leaves_it_to_the_engine(api, plain):
    api.get(f"{BASE}/x").respond(429)
    with pytest.raises(RateLimited) as caught:
        plain.call("GET", "/x")
    assert caught.value.retry_after is None


def test_429_on_a_send_is_still_rate_limited_not_unknown(api, plain):
    api.post(f"{BASE}/x").respond(429, headers={"Retry-After": "3"})
    with pytest.raises(RateLimited):
        plain.call("POST", "/x", sends=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("5", 5.0), (" 2.5 ", 2.5), ("", None), (None, None), ("soon", None)],
)
def test_parse_retry_after_values(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_date_in_the_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_parse_retry_after_date_relative_to_now():
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_read_is_temporary(api, plain, status):
    api.get(f"{BASE}/x").respond(status)
    with pytest.raises(TemporaryError) as caught:
        plain.call("GET", "/x")
    assert caught.value.retryable


def test_5xx_on_a_send_is_unknown_outcome(api, plain):
    # The sandbox's crash-after-accept knob records the messages, then answers 500.
    api.post(f"{BASE}/x").respond(500)
    with pytest.raises(UnknownOutcome) as caught:
        plain.call("POST", "/x", sends=True)
    assert not isinstance(caught.value, TemporaryError)


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_on_a_send_is_unknown_outcome(api, plain, status):
    api.post(f"{BASE}/x").respond(status)  # the upstream may have done the work
    with pytest.raises(UnknownOutcome):
        plain.call("POST", "/x", sends=True)


def test_503_on_a_send_is_temporary_the_server_took_nothing(api, plain):
    api.post(f"{BASE}/x").respond(503)
    with pytest.raises(TemporaryError) as caught:
        plain.call("POST", "/x", sends=True)
    assert caught.value.retryable


def test_connect_error_is_temporary_even_for_a_send(api, plain):
    api.post(f"{BASE}/x").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TemporaryError) as caught:
        plain.call("POST", "/x", sends=True)
    assert "nothing was sent" in str(caught.value)


def test_connect_timeout_is_temporary(api, plain):
    api.post(f"{BASE}/x").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(TemporaryError):
        plain.call("POST", "/x", sends=True)


def test_read_timeout_after_a_send_is_unknown_outcome(api, plain):
    api.post(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(UnknownOutcome):
        plain.call("POST", "/x", sends=True)


def test_read_timeout_on_a_read_is_temporary(api, plain):
    api.get(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(TemporaryError):
        plain.call("GET", "/x")


def test_dropped_connection_after_a_send_is_unknown_outcome(api, plain):
    api.post(f"{BASE}/x").mock(side_effect=httpx.RemoteProtocolError("closed"))
    with pytest.raises(UnknownOutcome):
        plain.call("POST", "/x", sends=True)


def test_malformed_json_on_a_read_is_temporary(api, plain):
    api.get(f"{BASE}/x").respond(200, content=b'{"data": [1, 2')
    with pytest.raises(TemporaryError):
        plain.call("GET", "/x")


def test_malformed_json_on_a_send_is_unknown_outcome(api, plain):
    api.post(f"{BASE}/x").respond(200, content=b"<html>oops</html>")
    with pytest.raises(UnknownOutcome):
        plain.call("POST", "/x", sends=True)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, InvalidRequest),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, InvalidRequest),
        (410, PermanentError),
        (422, InvalidRequest),
    ],
)
def test_generic_4xx_mapping(api, plain, status, error_class):
    api.get(f"{BASE}/x").respond(status, json={})
    with pytest.raises(error_class) as caught:
        plain.call("GET", "/x")
    assert caught.value.code == str(status)
    assert "Plain" in str(caught.value)


def test_unsupported_operations_raise_not_supported(plain):
    with pytest.raises(NotSupported, match="Plain does not offer stopping a campaign"):
        plain.stop("1")
    assert isinstance(NotSupported(), PermanentError)


def test_redact_url_hides_credentials_in_the_query():
    url = f"https://api.mobizon.kz/service/Campaign/Send?output=json&api=v1&apiKey={MOBIZON_KEY}"
    redacted = redact_url(url)
    assert MOBIZON_KEY not in redacted
    assert "apiKey=***" in redacted
    assert "output=json" in redacted


def test_urls_in_debug_logs_are_redacted(api, caplog):
    api.get(url__startswith=f"{BASE}/x").respond(200, json={})
    caplog.set_level(logging.DEBUG)
    # Settings keep httpx at WARNING; a deployment may turn it up, and must stay redacted then.
    caplog.set_level(logging.DEBUG, logger="httpx")
    Plain().call("GET", "/x", params={"apiKey": "topsecret", "page": 1})
    assert "/x?apiKey=***&page=1" in caplog.text
    assert "httpx" in caplog.text  # httpx's own INFO line is there, redacted too
    assert "topsecret" not in caplog.text


def test_flatten_form_uses_php_brackets():
    fields = flatten_form(
        {
            "id": 7,
            "data": {"type": 3, "from": "Alpha", "skip": None},
            "ids": ["1", "2"],
            "recipients": [{"recipient": "77011234567", "name": "Ann"}],
        }
    )
    assert fields == [
        ("id", "7"),
        ("data[type]", "3"),
        ("data[from]", "Alpha"),
        ("ids[]", "1"),
        ("ids[]", "2"),
        ("recipients[0][recipient]", "77011234567"),
        ("recipients[0][name]", "Ann"),
    ]


class Quiet:
    """A Pace (providers.base): what ProviderAccount keeps in its quiet_until."""

    def __init__(self, until: datetime | None = None):
        self.until = until

    def quiet_left(self):
        return self.until if self.until and self.until > datetime.now(UTC) else None

    def quiet_for(self, seconds: float):
        self.until = datetime.now(UTC) + timedelta(seconds=seconds)

    def exclusive(self):
        return contextlib.nullcontext()


def test_a_429_asks_every_caller_on_the_account_for_quiet(api):
    pace = Quiet()
    api.get(f"{BASE}/x").respond(429, headers={"Retry-After": "17"})

    with pytest.raises(RateLimited):
        Plain(pace=pace).call("GET", "/x")

    assert 16 < (pace.until - datetime.now(UTC)).total_seconds() <= 17


def test_no_request_goes_out_while_the_provider_asked_for_quiet(api):
    route = api.get(f"{BASE}/x").respond(200, json=[])
    pace = Quiet(datetime.now(UTC) + timedelta(seconds=5))

    with pytest.raises(RateLimited) as caught:
        Plain(pace=pace).call("GET", "/x")

    assert not route.called
    assert 4 < caught.value.retry_after <= 5
    pace.until = None
    assert Plain(pace=pace).call("GET", "/x") == []


def test_every_adapter_request_obeys_the_provider_timeout_setting(acme, settings):
    """Tracking, pricing, stop and Test connection build their adapter the same way sending
    does (ProviderAccount.adapter), so CRIER_PROVIDER_TIMEOUT reaches them all; it once only
    reached sending, the others waited a hard-coded 30 s."""
    settings.CRIER_PROVIDER_TIMEOUT = 2.5
    with acme.account.adapter() as adapter:
        assert adapter.http.timeout.read == 2.5
        assert adapter.http.timeout.connect == CONNECT_TIMEOUT
