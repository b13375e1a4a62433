"""Uploads over CRIER_IMPORT_MAX_BYTES are stopped while they stream in, not after.

Django would otherwise write the whole upload to a temporary file before any view could look
at its size. ``LimitedUploadHandler`` runs before Django's own handlers and drops a file the
moment it passes the limit; ``UploadLimitMiddleware`` then answers with the reason instead of
letting the view complain that no file was chosen. A proxy in front of Crier should cap request
bodies a little above the limit too (nginx: client_max_body_size), so a huge upload is not even
read.

Reading an upload costs memory and time however it is bounded, so only a few are read at once:
CRIER_UPLOADS_PER_PROCESS in one web process and CRIER_UPLOADS_PER_WORKSPACE in one workspace
(counted in the cache, so across processes when the cache is shared). A request over either
cap is answered "try again in a moment" without its file being looked at.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager, suppress

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
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


BUSY = "Another upload is still being read; try again in a moment."


class Busy(Exception):
    pass


class _ProcessSlots:
    """How many uploads this process is reading; the cap is read on each use."""

    def __init__(self):
        self._lock = threading.Lock()
        self.taken = 0

    @contextmanager
    def slot(self):
        with self._lock:
            if self.taken >= settings.CRIER_UPLOADS_PER_PROCESS:
                raise Busy
            self.taken += 1
        try:
            yield
        finally:
            with self._lock:
                self.taken -= 1


process_slots = _ProcessSlots()
# A count left behind by a process that died goes away after this long.
_WORKSPACE_SLOT_SECONDS = 15 * 60


@contextmanager
def workspace_slot(workspace_id: int):
    """One of the workspace's CRIER_UPLOADS_PER_WORKSPACE upload slots, or Busy."""
    key = f"crier:uploads-reading:{workspace_id}"
    cache.add(key, 0, _WORKSPACE_SLOT_SECONDS)
    try:
        taken = cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, _WORKSPACE_SLOT_SECONDS)
        taken = 1
    if taken > settings.CRIER_UPLOADS_PER_WORKSPACE:
        _release(key)
        raise Busy
    try:
        yield
    finally:
        _release(key)


def _release(key: str) -> None:
    with suppress(ValueError):  # expired meanwhile: nothing left to give back
        cache.decr(key)


@contextmanager
def upload_slot(workspace_id: int | None):
    """A slot for reading one upload in this process and (when there is one) its workspace;
    raises Busy when either cap is reached."""
    with ExitStack() as slots:
        slots.enter_context(process_slots.slot())
        if workspace_id is not None:
            slots.enter_context(workspace_slot(workspace_id))
        yield


class UploadLimitMiddleware:
    """Holds an upload slot for the whole of a request with a file, and answers a request whose
    upload was refused (too large, or no slot free) with the reason before its view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _is_upload(request):
            return self.get_response(request)
        workspace = getattr(request, "workspace", None)
        with ExitStack() as held:
            try:
                held.enter_context(upload_slot(workspace.pk if workspace else None))
            except Busy:
                request.refused_upload = BUSY  # answered in process_view, after the CSRF check
            return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not _is_upload(request) or getattr(view_func, "answers_refused_uploads", False):
            return None  # the view reads request.refused_upload itself (the API answers a problem)
        if getattr(request, "refused_upload", None) is None:
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


def _is_upload(request) -> bool:
    return request.method == "POST" and request.content_type == "multipart/form-data"
