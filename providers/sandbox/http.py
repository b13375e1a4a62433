"""What every emulator view shares: the decorator that authenticates and applies the faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from providers.sandbox import faults
from providers.sandbox.models import SandboxAccount


class Reply(Exception):
    """Raised anywhere in a view to answer ``response`` at once (auth failure, validation)."""

    def __init__(self, response: HttpResponse):
        super().__init__(response.status_code)
        self.response = response


def endpoint(
    authenticate: Callable[[HttpRequest], SandboxAccount],
    rate_limited: Callable[[int], HttpResponse],
    methods: tuple[str, ...] = ("GET",),
    bills: bool | Callable[..., bool] = False,
):
    """Decorate a view ``(request, account, **kwargs)``: check the method, authenticate, then
    run it under the account's fault knobs. API emulators take no CSRF token and no login.
    ``bills``: the request may bill messages (or a ``(request, **kwargs)`` test of that), so
    the "slow accept" knob applies to it."""

    def decorator(view):
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = JsonResponse({"message": "Method Not Allowed"}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                account = authenticate(request)
            except Reply as reply:
                return reply.response

            def handle():
                try:
                    return view(request, account, *args, **kwargs)
                except Reply as reply:
                    return reply.response

            billing = bills(request, *args, **kwargs) if callable(bills) else bills
            return faults.run(account, handle, rate_limited, bills=billing)

        return wrapper

    return decorator


def json_body(request: HttpRequest, invalid: Callable[[str], HttpResponse]):
    """The request's JSON body; raises Reply(invalid(reason)) when it is not JSON."""
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Reply(invalid("The body is not valid JSON.")) from None


def bearer(request: HttpRequest) -> str:
    """The token of an ``Authorization: Bearer <token>`` header ('' when absent).

    BSG's own page writes ``Bearer: <token>`` while its SDK sends ``Bearer <token>``
    (providers.md conflict 1): both are accepted.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.rstrip(":").lower() == "bearer" else ""


def parse_when(value: str) -> datetime:
    """An ISO-8601 or ``Y-m-d H:i:s`` datetime (BSG uses both, conflict 6); naive means UTC.

    Raises ValueError. A ``+`` of an offset that arrived unencoded in a query string (a space)
    is put back.
    """
    parsed = parse_datetime(value) or parse_datetime(value.replace(" ", "+"))
    if parsed is None:
        raise ValueError(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def not_found(answer: Callable[[str], HttpResponse]):
    """The last URL pattern of an emulator: any other path gets ``answer(path)``, a JSON 404 in
    the API's own style as the real one gives, never Django's HTML page."""

    @csrf_exempt
    @login_not_required
    def view(request, path):
        return answer(path)

    return re_path(r"^(?P<path>.*)$", view)
