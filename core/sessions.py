"""Django's database sessions (SESSION_ENGINE), the session read with SQL built once
(core.compiled): every signed-in request reads its session, and building that query cost more
CPU than the database took to answer it. Written, cycled and deleted as Django's are."""

from __future__ import annotations

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
    def _get_session_from_db(self):
        """The session while it has not expired, else None (and no key, as Django's)."""
        found = _SESSION(key=self.session_key, now=timezone.now())
        if found:
            return found[0]
        self._session_key = None
        return None
