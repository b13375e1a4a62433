"""Errors as RFC 9457 problem details (``application/problem+json``), one stable ``type`` per
kind of error. Each type is a path of this API that describes it (``problem_type``)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

logger = logging.getLogger(__name__)

TYPE_PREFIX = "/api/v1/problems/"

# slug -> (HTTP status, title, what it means and what to do)
TYPES: dict[str, tuple[int, str, str]] = {
    "malformed-request": (400, "Malformed request", "The body is not valid JSON or form data."),
    "validation-error": (
        400,
        "Invalid input",
        "One or more fields are wrong; ``errors`` names each field and says what to change.",
    ),
    "not-authenticated": (
        401,
        "Not authenticated",
        "Send a key of your workspace as 'Authorization: Bearer crier_…' (admins create keys "
        "under API keys in the workspace menu).",
    ),
    "missing-scope": (
        403,
        "Scope missing",
        "The key works, but it was not given the scope this needs (read, send or manage).",
    ),
    "not-found": (
        404,
        "Not found",
        "Nothing with this id in the key's workspace, or no such path.",
    ),
    "method-not-allowed": (405, "Method not allowed", "The path does not take this method."),
    "not-acceptable": (406, "Not acceptable", "The API answers in JSON only."),
    "wrong-state": (
        409,
        "Not possible in this state",
        "The object is not in a state that allows this (for example, only a draft can be "
        "changed or launched). ``detail`` says what state it is in.",
    ),
    "idempotency-in-progress": (
        409,
        "Same request in progress",
        "A request with this Idempotency-Key is still being answered; retry in a moment to get "
        "its answer.",
    ),
    "not-ready": (
        422,
        "Not ready to launch",
        "The draft cannot be launched yet; ``detail`` lists what to fix (recipients, text, "
        "sender, balance, or confirm_unpriced for destinations without a rate).",
    ),
    "opted-out": (
        422,
        "Recipient opted out",
        "The number is on the workspace's stop list; nothing was sent. An admin can opt it "
        "back in on the contact's page.",
    ),
    "payload-too-large": (413, "Too large", "The body or file is over the limit; split it."),
    "busy": (
        503,
        "Busy",
        "Other uploads are being read right now; retry after the seconds Retry-After gives.",
    ),
    "unsupported-media-type": (
        415,
        "Unsupported media type",
        "Send JSON (application/json), or multipart/form-data for a file upload.",
    ),
    "idempotency-key-reused": (
        422,
        "Idempotency-Key reused with another request",
        "This Idempotency-Key was used in the last 24 hours for a request with a different "
        "method, path or body. Use a new key for a new request.",
    ),
    "rate-limited": (
        429,
        "Too many requests",
        "The key sent more requests than its limit; wait the seconds Retry-After gives.",
    ),
    "server-error": (
        500,
        "Server error",
        "Crier failed to answer; nothing was changed unless the answer says so. Retry with the "
        "same Idempotency-Key.",
    ),
}

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(exceptions.APIException):
    """Raise with a slug of TYPES and a ``detail`` for this occurrence."""

    def __init__(self, slug: str, detail: str, **extra):
        self.slug = slug
        self.status_code = TYPES[slug][0]
        self.extra = extra
        super().__init__(detail)


def problem_type(slug: str) -> str:
    return TYPE_PREFIX + slug


def body(slug: str, detail: str, **extra) -> dict:
    code, title, _ = TYPES[slug]
    return {"type": problem_type(slug), "title": title, "status": code, "detail": detail, **extra}


def _slug_of(exc) -> str:
    if isinstance(exc, Problem):
        return exc.slug
    return {
        exceptions.ParseError: "malformed-request",
        exceptions.ValidationError: "validation-error",
        exceptions.NotAuthenticated: "not-authenticated",
        exceptions.AuthenticationFailed: "not-authenticated",
        exceptions.PermissionDenied: "missing-scope",
        exceptions.NotFound: "not-found",
        exceptions.MethodNotAllowed: "method-not-allowed",
        exceptions.NotAcceptable: "not-acceptable",
        exceptions.UnsupportedMediaType: "unsupported-media-type",
        exceptions.Throttled: "rate-limited",
    }.get(type(exc), "malformed-request")


def _field_errors(detail, path: str = "") -> list[dict]:
    """DRF's nested error dict as a flat list of {"field", "message"}."""
    if isinstance(detail, dict):
        out = []
        for name, value in detail.items():
            field = f"{path}.{name}" if path else str(name)
            out += _field_errors(value, path if name == "non_field_errors" else field)
        return out
    if isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            return [{"field": path, "message": str(v)} for v in detail]
        out = []
        for i, value in enumerate(detail):
            out += _field_errors(value, f"{path}[{i}]")
        return out
    return [{"field": path, "message": str(detail)}]


def handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error the API answers is a problem document."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = Problem(
            "payload-too-large",
            f"The body is larger than {limit:,} bytes: send fewer recipients a request, or "
            "upload them as a file.",
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Nothing with this id in your workspace.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc))
    response = drf_handler(exc, context)
    if response is None:
        return None  # a real server error: Django's 500 handling (api.views.base answers it)
    slug = _slug_of(exc)
    extra = dict(getattr(exc, "extra", {}))
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        extra["errors"] = errors
        first = errors[0] if errors else {"field": "", "message": "Invalid input."}
        where = f"{first['field']}: " if first["field"] else ""
        detail = where + first["message"]
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
    else:
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else str(exc)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = int(exc.wait) + 1
    data = body(slug, detail, **extra)
    data["status"] = response.status_code
    response.data = data
    response.content_type = PROBLEM_CONTENT_TYPE
    if "retry_after" in data and not response.has_header("Retry-After"):
        response["Retry-After"] = str(data["retry_after"])
    return response


def server_error() -> Response:
    return Response(
        body("server-error", "Crier failed to answer this request; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def describe(request, slug: str):
    """GET /api/v1/problems/<slug>: what a problem type means (its ``type`` dereferenced)."""
    if slug not in TYPES:
        return JsonResponse(
            body("not-found", f"No problem type “{slug}”."),
            status=404,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    code, title, text = TYPES[slug]
    return JsonResponse(
        {"type": problem_type(slug), "status": code, "title": title, "description": text}
    )
