"""Review r22: malformed query input is refused with a problem naming it, never a 500.
A page's ``cursor`` is opaque but comes from the client: one edited by hand (or corrupted in
a log, or made by a client library that mangles it) must be a 4xx."""

from __future__ import annotations

from base64 import b64encode

import pytest


def cursor(query: str) -> str:
    return b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "path",
    ["/api/v1/messages", "/api/v1/campaigns", "/api/v1/accounts", "/api/v1/contacts"],
)
@pytest.mark.parametrize("position", ["abc", "1e3", "2026-13-45"])
def test_r22_a_tampered_cursor_is_a_4xx_not_a_500(api, path, position):
    response = api.get(path, {"cursor": cursor(f"p={position}")})
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
