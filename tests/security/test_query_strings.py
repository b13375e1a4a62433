"""No query string produces a 500 (#15): every dashboard route, as its owner, with the query
parameters the pages read, fed hostile values. "²" passed isdigit() and then broke int(); a
nineteen-digit page overflowed; a NUL broke PostgreSQL.

The routes come from the URL resolver (tests/routes.py), so a new page is covered as it lands.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.params import ascii_digits, text, whole_number
from tests.routes import dashboard_routes, url_for
from workspaces.models import Role

# Every query parameter a view reads (grep request.GET / query.get over the apps).
PARAMETERS = ["page", "account", "q", "status", "channel", "since", "until", "sort", "action"]
PARAMETERS += ["seen", "provider", "workspace", "sheet", "column", "encoding", "delimiter"]
HOSTILE = [
    "²",
    "\uff19",
    "٣",
    "1" * 19,
    "1" * 30,
    "-1",
    "0",
    "1e9",
    "0x10",
    "1.5",
    "\x00",
    "a\x00b",
    "%00",
    "'; DROP TABLE x; --",
    "<script>alert(1)</script>",
    "\ud7ff",
    "../../etc/passwd",
    "2030-02-30",
    "9999-99-99",
    " ",
    "",
]
GET_ROUTES = [(name, kwargs) for name, kwargs in dashboard_routes()]


def test_whole_number_takes_only_ascii_digits_within_range():
    assert [whole_number(v) for v in ("7", " 12 ", "²", "\uff19", "0", "-3", "1" * 19)] == [
        7,
        12,
        None,
        None,
        None,
        None,
        None,
    ]
    assert text("a\x00b\x1f c " * 50, max_length=5) == "ab c"
    assert ascii_digits("+7 (٣01) ²12") == "70112"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "kwargs"), GET_ROUTES, ids=[n for n, _ in GET_ROUTES])
def test_no_query_string_makes_a_route_fail(client, acme, name, kwargs):
    client.force_login(acme.user(Role.OWNER))
    url = url_for(name, kwargs, acme)

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        parameter=st.sampled_from(PARAMETERS),
        value=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)),
        htmx=st.booleans(),
    )
    def get(parameter, value, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.get(url, {parameter: value, "page": value}, headers=headers)
        assert response.status_code < 500, (url, parameter, value)

    get()
