"""``Idempotency-Key`` on every POST: the first answer is kept for 24 hours and returned for a
retry with the same key and the same request; the same key with another request is refused
(422), and a retry while the first is still being answered is told to wait (409).

The key is claimed by inserting its row before the work starts (a unique constraint decides
between concurrent requests), so fifty identical requests at once do the work once. The claim,
the work and the answer are one transaction (``ApiView.dispatch``): a concurrent request with
the key waits for it on PostgreSQL and then gets its answer; a request that dies half-way (a
worker's timeout, a restart) or answers 5xx leaves neither its work nor its claim behind, so the
retry does the work once (review r22: a claim committed first stayed "in progress" for a day
after such a death, and a 500 after the work had committed let a retry do it again). Tasks are
queued on that commit, after the answer is stored.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from api.models import IdempotentRequest
from api.problems import Problem

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
MAX_LENGTH = 255


class Replay(Exception):
    """The stored answer to send again (raised from the view's ``initial``)."""

    def __init__(self, response: HttpResponse):
        self.response = response


def fingerprint(request) -> str:
    """SHA-256 of the method, the path with its query, and the body (a file by its content)."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.get_full_path().encode() + b"\n")
    if request.content_type.startswith("multipart/"):
        for name, value in sorted(request.data.items()):
            digest.update(f"{name}={value if not hasattr(value, 'chunks') else ''}\n".encode())
        for name, upload in sorted(request.FILES.items()):
            digest.update(f"file {name} {upload.name}\n".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    else:
        digest.update(request._request.body)
    return digest.hexdigest()


def claim(request, api_key) -> IdempotentRequest | None:
    """Claims the request's key (None: the request has none), or raises Replay / Problem."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return None
    key = key.strip()
    if not key or len(key) > MAX_LENGTH:
        raise Problem(
            "validation-error",
            f"{HEADER} must be 1 to {MAX_LENGTH} characters; a UUID is a good choice.",
        )
    print_ = fingerprint(request)
    since = timezone.now() - KEEP
    IdempotentRequest.objects.filter(api_key=api_key, key=key, created_at__lt=since).delete()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(api_key=api_key, key=key, fingerprint=print_)
    except IntegrityError:
        pass
    first = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
    if first is None:  # it failed and was let go meanwhile: this one may try again
        return claim(request, api_key)
    if first.fingerprint != print_:
        raise Problem(
            "idempotency-key-reused",
            f"The {HEADER} “{key}” was used at {first.created_at:%Y-%m-%d %H:%M:%S} UTC for "
            "another request. Use a new key for a new request.",
        )
    if first.status_code is None:
        raise Problem(
            "idempotency-in-progress",
            f"The first request with the {HEADER} “{key}” is still being answered; retry in "
            "a moment.",
        )
    response = HttpResponse(
        bytes(first.body), status=first.status_code, content_type=first.content_type
    )
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def keep(claimed: IdempotentRequest, response) -> None:
    """Stores the answer in the request's transaction; a server error rolls it back, work and
    claim, so a retry does the work again."""
    if response.status_code >= 500:
        transaction.set_rollback(True)
        return
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    IdempotentRequest.objects.filter(pk=claimed.pk).update(
        status_code=response.status_code,
        body=response.content,
        content_type=response.get("Content-Type", ""),
    )


def forget_old() -> int:
    """Deletes the keys older than 24 hours (beat); returns how many."""
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
