"""Adapters against respx: every request is matched by method and URL, and its fields asserted.

The adapters build their own real httpx.Client; respx patches httpx's transport underneath, so
the code path under test is the production one.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
import respx
from django.core.cache import cache

from providers.base import OutgoingMessage
from providers.bsg.adapter import BSGAdapter
from providers.conpeek.adapter import ConpeekAdapter
from providers.mobizon.adapter import MobizonAdapter
from providers.smsdrop.adapter import SmsdropAdapter

BSG_KEY = "live_BSGSECRETKEY0000000001"
MOBIZON_KEY = "K" * 38 + "Zz"
SMSDROP_PASSWORD = "pw-very-secret"
CONPEEK_KEY = "conpeek-secret-key"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    """respx router; fails the test if a request matches no route."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def bsg():
    return BSGAdapter(credentials={"api_key": BSG_KEY})


@pytest.fixture
def mobizon():
    return MobizonAdapter(credentials={"api_key": MOBIZON_KEY, "domain": "mobizon.kz"})


@pytest.fixture
def smsdrop():
    return SmsdropAdapter(credentials={"email": "a@b.c", "password": SMSDROP_PASSWORD})


@pytest.fixture
def conpeek():
    return ConpeekAdapter(
        credentials={
            "api_key": CONPEEK_KEY,
            "tenant_url": "https://acme.conpeek.com",
            "voice_campaign_id": "5b7c389fe8df7b60af688989",
        }
    )


def message(phone: str, reference: str = "", **fields) -> OutgoingMessage:
    return OutgoingMessage(reference=reference or f"ref{phone.lstrip('+')}", phone=phone, **fields)


def body_json(request) -> dict:
    return json.loads(request.content)


def form_fields(request) -> list[tuple[str, str]]:
    """The form body as ordered (key, value) pairs, brackets decoded."""
    return parse_qsl(request.content.decode(), keep_blank_values=True)
