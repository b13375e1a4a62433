"""Django's database sessions (SESSION_ENGINE), the session read with SQL built once
(core.compiled): every signed-in request reads its session, and building that query cost more
CPU than the database took to answer it. Written, cycled and deleted as Django's are. A session
that names a backend since renamed (settings.CRIER_RENAMED_AUTH_BACKENDS) is read with the new
name, so a deploy that renames one signs nobody out."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.compiled import A_TEXT, A_TIME, Compiled

_SESSION = Compiled(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now),
    key=A_TEXT,
    now=A_TIME,
)


class SessionStore(db.SessionStore):
    def load(self):
        data = super().load()
        renamed = settings.CRIER_RENAMED_AUTH_BACKENDS.get(data.get(BACKEND_SESSION_KEY))
        if renamed:
            data[BACKEND_SESSION_KEY] = renamed
        return data

    def _get_session_from_db(self):
        """The session while it has not expired, else None (and no key, as Django's)."""
        found = _SESSION(key=self.session_key, now=timezone.now())
        if found:
            return found[0]
        self._session_key = None
        return None
