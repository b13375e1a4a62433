"""The sandbox's notion of "now", so tests can move time without sleeping.

Every sandbox module asks ``clock.now()``; tests call ``advance()`` (or patch ``now``) and
``reset()`` afterwards. The offset is process-wide, so a live server thread sees it too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta()


def now() -> datetime:
    return timezone.now() + _offset


def advance(seconds: float) -> None:
    """Move the sandbox clock forward (delivery progresses, deferred starts come due)."""
    global _offset
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    global _offset
    _offset = timedelta()
