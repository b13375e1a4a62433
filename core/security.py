"""What every signed-in response carries: no caching anywhere, and a session that ends when
the user stops using it."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils.cache import patch_cache_control

SEEN_KEY = "seen_at"
# The session's end moves forward at most this often: a page that polls every few seconds
# would otherwise write the session on every poll.
TOUCH_EVERY = 60


class SignedInMiddleware:
    """A signed-in page or export may hold a workspace's data: ``Cache-Control: no-store``
    keeps it out of the browser's cache and any proxy's. The session is saved again (its
    expiry moved to CRIER_SESSION_IDLE_SECONDS from now) once a minute of use, so it ends
    after that long idle."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        signed_in = request.user.is_authenticated
        if signed_in:
            now = int(time.time())
            if now - request.session.get(SEEN_KEY, 0) >= min(TOUCH_EVERY, _idle()):
                request.session[SEEN_KEY] = now
        response = self.get_response(request)
        if signed_in:
            patch_cache_control(response, no_store=True, private=True)
        return response


def _idle() -> int:
    return settings.SESSION_COOKIE_AGE
