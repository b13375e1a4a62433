"""Uploads over CRIER_IMPORT_MAX_BYTES are stopped while they stream in, not after.

Django would otherwise write the whole upload to a temporary file before any view could look
at its size. ``LimitedUploadHandler`` runs before Django's own handlers and drops a file the
moment it passes the limit; ``UploadLimitMiddleware`` then answers with the reason instead of
letting the view complain that no file was chosen. A proxy in front of Crier should cap request
bodies a little above the limit too (nginx: client_max_body_size), so a huge upload is not even
read.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRefresh

MiB = 1024 * 1024


def too_large_message(limit: int) -> str:
    return (
        f"The file is larger than {limit / MiB:.0f} MB, the most Crier accepts, so it was not "
        "uploaded. Split it into smaller files or remove the columns you do not need."
    )


class LimitedUploadHandler(FileUploadHandler):
    """Passes chunks on to the next handler until a file passes the limit, then skips it."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        limit = settings.CRIER_IMPORT_MAX_BYTES
        if start + len(raw_data) > limit:
            self.request.refused_upload = too_large_message(limit)
            # Django closes (and so deletes) what the later handlers wrote so far and reads the
            # rest of this file without keeping it; the other form fields are still parsed.
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the next handler builds the UploadedFile


class UploadLimitMiddleware:
    """Answers a request whose upload was refused with the reason, before its view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.content_type != "multipart/form-data":
            return None
        request.FILES  # noqa: B018 -- parse now, through the handlers above
        reason = getattr(request, "refused_upload", None)
        if reason is None:
            return None
        messages.error(request, reason)
        if getattr(request, "htmx", False):
            return HttpResponseClientRefresh()
        back = request.headers.get("Referer", "")
        if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            return redirect(back)
        return redirect("overview")
